import { plivoValidateAnswer } from './plivo-verify';
import { twilioCheckAnswer, twilioStartFailure } from './twilio-verify';

describe('twilioCheckAnswer', () => {
  it.each([
    [{ httpStatus: 200, status: 'approved' }, 'approved'],
    [{ httpStatus: 200, status: 'pending' }, 'wrong'],
    [{ httpStatus: 200, status: 'canceled' }, 'expired'],
    [{ httpStatus: 200, status: 'expired' }, 'expired'],
    [{ httpStatus: 200, status: 'max_attempts_reached' }, 'exhausted'],
    [{ httpStatus: 404, code: 20404 }, 'expired'],
    [{ httpStatus: 404 }, 'expired'],
    [{ httpStatus: 429, code: 60202 }, 'exhausted'],
    [{ httpStatus: 400, code: 60200 }, 'wrong'],
  ])('%j is %s', (answer, expected) => {
    expect(twilioCheckAnswer(answer)).toBe(expected);
  });

  it.each([
    { httpStatus: 200 },
    { httpStatus: 200, status: 'something new' },
    { httpStatus: 401, code: 20003 },
    { httpStatus: 429, code: 20429 },
    { httpStatus: 500 },
    { httpStatus: 503, code: 20503 },
    { httpStatus: 302 },
  ])('%j gives no judgement', (answer) => {
    expect(twilioCheckAnswer(answer)).toBeUndefined();
  });
});

describe('twilioStartFailure', () => {
  it.each([
    [{ httpStatus: 429, code: 20429 }, true, 'twilio_20429'],
    [{ httpStatus: 429, code: 60212 }, true, 'twilio_60212'],
    [{ httpStatus: 503 }, true, 'http_5xx'],
    [{ httpStatus: 400, code: 60200 }, false, 'twilio_60200'],
    [{ httpStatus: 429, code: 60203 }, false, 'twilio_60203'],
    [{ httpStatus: 400, code: 60205 }, false, 'twilio_60205'],
    [{ httpStatus: 403, code: 60410 }, false, 'twilio_60410'],
    [{ httpStatus: 401, code: 20003 }, false, 'twilio_20003'],
    [{ httpStatus: 404, code: 20404 }, false, 'twilio_20404'],
    [{ httpStatus: 400, code: 12345 }, false, 'http_4xx'],
  ])('%j: retryable %s, counted as %s', (answer, retryable, code) => {
    expect(twilioStartFailure(answer)).toEqual({ retryable, code });
  });
});

describe('plivoValidateAnswer', () => {
  it.each([
    [{ httpStatus: 200 }, 'approved'],
    [{ httpStatus: 400, error: 'Invalid OTP' }, 'wrong'],
    [{ httpStatus: 400, error: 'session expired' }, 'expired'],
    [{ httpStatus: 400, error: 'maximum attempts reached' }, 'exhausted'],
    [{ httpStatus: 400, error: 'Attempts exceeded' }, 'exhausted'],
    [{ httpStatus: 400 }, 'wrong'],
    [{ httpStatus: 404, error: 'session not found' }, 'expired'],
  ])('%j is %s', (answer, expected) => {
    expect(plivoValidateAnswer(answer)).toBe(expected);
  });

  it.each([{ httpStatus: 401 }, { httpStatus: 403 }, { httpStatus: 429 }, { httpStatus: 500 }, { httpStatus: 503 }])(
    '%j gives no judgement',
    (answer) => {
      expect(plivoValidateAnswer(answer)).toBeUndefined();
    },
  );
});
