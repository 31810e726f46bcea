import { validateSync } from 'class-validator';
import { ChosenId, chosenIdProblem } from './chosen-id';

class Request {
  @ChosenId()
  id: string;
}

describe('ChosenId', () => {
  it.each(['a', '7', '69629026806489455', 'org-given_1', 'A'.repeat(200), 'instances', 'my-instance'])(
    'takes %s',
    (id) => expect(chosenIdProblem(id)).toBeUndefined(),
  );

  it.each(['', '-a', '_a', 'a b', 'a.b', 'a/b', 'ä', 'a@b', 'A'.repeat(201), 'a\u0000'])('refuses %j', (id) =>
    expect(chosenIdProblem(id)).toMatch(/^must be 1 to 200 of/),
  );

  it.each(['instance', 'INSTANCE', 'Instance', 'system', 'SYSTEM', 'iam', 'me', 'new', 'human'])(
    'refuses the reserved word %s',
    (id) => expect(chosenIdProblem(id)).toMatch(/^is reserved \(instance, system, iam, me, new, human\)$/),
  );

  it('names the field and the rule in its violation', () => {
    const request = Object.assign(new Request(), { id: 'instance' });
    expect(validateSync(request).map((e) => Object.values(e.constraints ?? {}))).toEqual([
      ['id is reserved (instance, system, iam, me, new, human)'],
    ]);
  });
});
