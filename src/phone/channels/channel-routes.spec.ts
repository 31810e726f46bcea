import { validateEnvironment } from '../../app.config';
import { ConfigError } from '../../common/config/config-error';
import { FakeChannelSenders } from '../../../test/support/fakes/channels';
import { NoneSmsSender } from '../sms/sms-sender';
import {
  ChannelPolicy,
  nextChannel,
  parseChannelRoutes,
  parseStepTimeouts,
  stepTimeoutOf,
  workflowFor,
  workflowOf,
} from './channel-routes';
import { ChannelWorkflow } from './channel-workflow';

const IN = '+919876543210';
const DE = '+4915123456789';
const CH = '+41791234567';

const policy = (routes: string, maxFallbacks = 2): ChannelPolicy =>
  validateEnvironment({ CHANNEL_ROUTES: routes, CHANNEL_MAX_FALLBACKS: String(maxFallbacks) }).channelRoutes.policy();

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    validateEnvironment(env);
    return [];
  } catch (error) {
    return (error as ConfigError).problems;
  }
};

describe(parseChannelRoutes.name, () => {
  it('reads countries and * to channels in order', () => {
    expect(parseChannelRoutes('IN=whatsapp,sms;DE=sms, voice;*=sms')).toEqual(
      new Map([
        ['IN', ['whatsapp', 'sms']],
        ['DE', ['sms', 'voice']],
        ['*', ['sms']],
      ]),
    );
  });

  it.each([
    ['IN=telegram,sms', 'IN: unknown channel "telegram" (known: sms, whatsapp, voice)'],
    ['IN=sms,sms', 'IN: sms appears twice'],
    ['in=sms', '"in=sms" is not KEY=value'],
    ['IN=sms;IN=voice', 'IN appears more than once'],
    ['IN=', 'IN: unknown channel "" (known: sms, whatsapp, voice)'],
  ])('refuses %s', (setting, reason) => {
    expect(parseChannelRoutes(setting)).toBe(reason);
  });
});

describe(parseStepTimeouts.name, () => {
  it('reads a duration per channel', () => {
    expect(parseStepTimeouts('whatsapp=30s;voice=2m', 10_000, 3_600_000)).toEqual(
      new Map([
        ['whatsapp', 30_000],
        ['voice', 120_000],
      ]),
    );
  });

  it.each(['fax=30s', 'sms=1s', 'sms=soon'])('refuses %s', (setting) => {
    expect(typeof parseStepTimeouts(setting, 10_000, 3_600_000)).toBe('string');
  });
});

describe('ChannelRoutesSettings', () => {
  it('defaults to SMS alone, 60 s steps and two fallbacks', () => {
    const read = validateEnvironment({}).channelRoutes.policy();
    expect(read).toEqual({
      routes: new Map([['*', ['sms']]]),
      maxFallbacks: 2,
      stepTimeoutMs: 60_000,
      stepTimeouts: new Map(),
    });
  });

  it('names CHANNEL_ROUTES and an example when it cannot be read', () => {
    expect(problemsOf({ CHANNEL_ROUTES: 'IN=whatsapp,fax' })).toEqual([
      'CHANNEL_ROUTES: IN: unknown channel "fax" (known: sms, whatsapp, voice); write entries such as IN=whatsapp,sms;DE=sms,voice;*=sms (an ISO country code or *, then channels tried in order)',
    ]);
  });

  it('refuses a step timeout out of range, and a cap beyond two', () => {
    expect(problemsOf({ CHANNEL_STEP_TIMEOUT: '1s' })[0]).toMatch(/^CHANNEL_STEP_TIMEOUT: /);
    expect(problemsOf({ CHANNEL_STEP_TIMEOUTS: 'voice=2h' })[0]).toMatch(/^CHANNEL_STEP_TIMEOUTS: voice: /);
    expect(problemsOf({ CHANNEL_MAX_FALLBACKS: '3' })[0]).toMatch(/^CHANNEL_MAX_FALLBACKS: /);
  });
});

describe(workflowFor.name, () => {
  const routes = 'IN=whatsapp,sms;DE=sms,voice;*=sms';

  it("takes the destination country's route, else *", () => {
    expect(workflowFor(policy(routes), IN)).toEqual(['whatsapp', 'sms']);
    expect(workflowFor(policy(routes), DE)).toEqual(['sms', 'voice']);
    expect(workflowFor(policy(routes), CH)).toEqual(['sms']);
  });

  it('is SMS alone for a country without a route when there is no *', () => {
    expect(workflowFor(policy('IN=whatsapp,sms'), CH)).toEqual(['sms']);
  });

  it('puts a chosen first channel first, then the rest of the route', () => {
    expect(workflowFor(policy(routes), DE, 'voice')).toEqual(['voice', 'sms']);
    expect(workflowFor(policy(routes), CH, 'whatsapp')).toEqual(['whatsapp', 'sms']);
  });

  it('holds at most 1 + CHANNEL_MAX_FALLBACKS steps', () => {
    expect(workflowFor(policy('*=whatsapp,sms,voice', 1), CH)).toEqual(['whatsapp', 'sms']);
    expect(workflowFor(policy('*=whatsapp,sms,voice', 0), CH)).toEqual(['whatsapp']);
    expect(workflowFor(policy('*=whatsapp,sms,voice', 2), CH)).toEqual(['whatsapp', 'sms', 'voice']);
  });
});

describe('step selection', () => {
  it('goes to the next channel of the row, and none after the last', () => {
    expect(nextChannel({ channel: 'whatsapp', channels: 'whatsapp,sms,voice', step: 0 })).toBe('sms');
    expect(nextChannel({ channel: 'sms', channels: 'whatsapp,sms,voice', step: 1 })).toBe('voice');
    expect(nextChannel({ channel: 'voice', channels: 'whatsapp,sms,voice', step: 2 })).toBeUndefined();
  });

  it("reads an old release's row as SMS alone", () => {
    expect(workflowOf({ channel: null, channels: null })).toEqual(['sms']);
    expect(nextChannel({ channel: null, channels: null, step: null })).toBeUndefined();
  });

  it("times a step by its channel's own timeout, else CHANNEL_STEP_TIMEOUT", () => {
    const read = validateEnvironment({
      CHANNEL_STEP_TIMEOUT: '45s',
      CHANNEL_STEP_TIMEOUTS: 'voice=2m',
    }).channelRoutes.policy();
    expect(stepTimeoutOf(read, 'voice')).toBe(120_000);
    expect(stepTimeoutOf(read, 'whatsapp')).toBe(45_000);
  });
});

describe(ChannelWorkflow.name, () => {
  const sms = new NoneSmsSender();

  it('refuses to start when a route names a channel without a sender, in one line', () => {
    const config = validateEnvironment({ CHANNEL_ROUTES: 'IN=whatsapp,sms;*=sms' });
    expect(() => new ChannelWorkflow(config.channelRoutes, new FakeChannelSenders({ sms }))).toThrow(
      new ConfigError([
        'CHANNEL_ROUTES: IN: channel "whatsapp" has no sender configured (configure its provider or take it out of the route)',
      ]),
    );
  });

  it('leaves out a chosen first channel that has no sender', () => {
    const config = validateEnvironment({ CHANNEL_ROUTES: 'DE=sms,voice' });
    const sut = new ChannelWorkflow(config.channelRoutes, new FakeChannelSenders({ sms, voice: sms }));
    expect(sut.channelsFor(DE, 'whatsapp')).toEqual(['sms', 'voice']);
    expect(sut.channelsFor(DE, 'voice')).toEqual(['voice', 'sms']);
  });

  it('sets a step timeout only when a next step follows', () => {
    const config = validateEnvironment({ CHANNEL_ROUTES: 'DE=sms,voice', CHANNEL_STEP_TIMEOUT: '30s' });
    const sut = new ChannelWorkflow(config.channelRoutes, new FakeChannelSenders({ sms, voice: sms }));
    const from = new Date(1_000_000);
    expect(sut.stepDueAt({ channels: 'sms,voice', step: 0 }, 'sms', from)).toEqual(new Date(1_030_000));
    expect(sut.stepDueAt({ channels: 'sms,voice', step: 1 }, 'voice', from)).toBeNull();
  });

  it('looks for timed-out steps only when a code may have a second step', () => {
    const plain = validateEnvironment({});
    expect(new ChannelWorkflow(plain.channelRoutes, new FakeChannelSenders({ sms })).fallsBack).toBe(false);
    const routed = validateEnvironment({ CHANNEL_ROUTES: 'DE=sms,voice' });
    expect(new ChannelWorkflow(routed.channelRoutes, new FakeChannelSenders({ sms, voice: sms })).fallsBack).toBe(true);
    const capped = validateEnvironment({ CHANNEL_ROUTES: 'DE=sms,voice', CHANNEL_MAX_FALLBACKS: '0' });
    expect(new ChannelWorkflow(capped.channelRoutes, new FakeChannelSenders({ sms, voice: sms })).fallsBack).toBe(
      false,
    );
  });
});
