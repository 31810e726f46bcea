import { textProblem } from './text-rules';

describe(textProblem.name, () => {
  it.each([
    'plain',
    '',
    'emoji 😀 and 👩‍👩‍👧',
    'combining e\u0301',
    'right-to-left שלום \u202e',
    'tab\tand newline\n',
    '\ufffd replacement',
  ])('accepts %j', (text) => {
    expect(textProblem(text)).toBeUndefined();
  });

  it.each([
    ['\u0000', /NUL/],
    ['a\u0000b', /NUL/],
    ['\ud800', /unpaired surrogate/],
    ['x\udc00', /unpaired surrogate/],
    ['\ude00\ud83d', /unpaired surrogate/],
    ['😀\ud83d', /unpaired surrogate/],
  ])('refuses %j', (text, reason) => {
    expect(textProblem(text)).toMatch(reason);
  });
});
