import type { NextFunction, Request, Response } from 'express';
import { inSequence } from './app.setup';

describe('inSequence (the middlewares every request passes, as one router layer)', () => {
  const req = {} as Request;
  const res = {} as Response;

  it('runs each middleware in order, then hands on to the next layer', () => {
    const order: string[] = [];
    const step = (name: string) => (_q: Request, _s: Response, next: NextFunction) => {
      order.push(name);
      next();
    };
    const next = jest.fn();
    inSequence(step('a'), step('b'), step('c'))(req, res, next);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(next).toHaveBeenCalledWith();
  });

  it('a middleware that answers (never calls next) ends the request there', () => {
    const later = jest.fn();
    const next = jest.fn();
    inSequence(() => undefined, later)(req, res, next);
    expect(later).not.toHaveBeenCalled();
    expect(next).not.toHaveBeenCalled();
  });

  it("an error passed to next skips the rest and goes to Express's error handling", () => {
    const failure = new Error('bad');
    const later = jest.fn();
    const next = jest.fn();
    inSequence((_q, _s, n) => n(failure), later)(req, res, next);
    expect(later).not.toHaveBeenCalled();
    expect(next).toHaveBeenCalledWith(failure);
  });

  it('an error thrown by a middleware does the same', () => {
    const failure = new Error('thrown');
    const later = jest.fn();
    const next = jest.fn();
    inSequence(() => {
      throw failure;
    }, later)(req, res, next);
    expect(later).not.toHaveBeenCalled();
    expect(next).toHaveBeenCalledWith(failure);
  });

  it('a middleware that goes on later (after I/O) continues the sequence then', async () => {
    const order: string[] = [];
    const next = jest.fn();
    inSequence(
      (_q, _s, n) => void setImmediate(() => (order.push('async'), n())),
      (_q, _s, n) => (order.push('sync'), n()),
    )(req, res, next);
    expect(order).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['async', 'sync']);
    expect(next).toHaveBeenCalledTimes(1);
  });
});
