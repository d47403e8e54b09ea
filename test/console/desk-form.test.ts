import t from 'tap'
import { buildSeedDocument } from '../../src/catalogue/seed.ts'
import { fieldKey, formFields, initialValues, planForm, problemsByField, readForm, type FormPlan } from '../../src/console/desk-form.ts'

// The desk's application forms, drawn from the services' formSchema: every
// service of the seed catalogue draws, and what a browser sends back from a
// form filled with the schema's first example is that example again.

// What a browser sends for a form filled in with `example`.
function filledWith (plan: FormPlan, example: Record<string, unknown>): Record<string, unknown> {
  if (plan.whole) return { 'form.json': JSON.stringify(example) }
  const body: Record<string, unknown> = {}
  for (const f of plan.fields) {
    const v = example[f.name]
    if (v === undefined) continue
    const name = `f.${f.name}`
    if (f.kind === 'list') body[name] = (v as unknown[]).join('\r\n')
    else if (f.kind === 'choices') body[name] = (v as unknown[]).map(String)
    else if (f.kind === 'json') body[name] = JSON.stringify(v, null, 2)
    else body[name] = String(v)
  }
  return body
}

t.test('every service of the seed catalogue draws its form and reads its example back', async (t) => {
  const services = buildSeedDocument().services
  t.ok(services.length > 20)
  for (const s of services) {
    const plan = planForm(s.formSchema)
    const example = (s.formSchema.examples as Array<Record<string, unknown>> | undefined)?.[0] ?? {}
    for (const lang of ['mn', 'en'] as const) t.doesNotThrow(() => formFields(plan, initialValues(plan), new Map(), lang), `${s.code} draws in ${lang}`)
    const read = readForm(plan, filledWith(plan, example), 'en')
    t.same(read.problems, new Map(), `${s.code}: no problem`)
    t.same(read.form, example, `${s.code}: the example comes back`)
  }
})

t.test('simple fields are inputs, the rest JSON prefilled from the example', async (t) => {
  const plan = planForm({
    type: 'object',
    required: ['kind', 'people'],
    properties: {
      note: { type: 'string', maxLength: 10 },
      people: { title: 'Хүмүүс / People', type: 'array', items: { type: 'object', properties: { regnum: { type: 'string' } } } },
      kind: { title: 'Төрөл / Kind', enum: ['a', 'b', 3] },
      months: { type: 'array', items: { type: 'integer' } },
      assets: { type: 'array', items: { enum: ['house', 'land'] } },
      paid: { type: 'boolean' },
      amount: { type: 'number' },
      on: { type: 'string', format: 'date' },
    },
    examples: [{ kind: 'a', people: [{ regnum: 'УБ99032712' }] }],
  })
  t.same(plan.fields.map((f) => [f.name, f.kind]), [
    ['kind', 'choice'], ['people', 'json'], ['note', 'text'], ['months', 'list'], ['assets', 'choices'], ['paid', 'boolean'], ['amount', 'number'], ['on', 'text'],
  ], 'required fields first, in the order the schema lists them')
  const drawn = formFields(plan, initialValues(plan), new Map(), 'en').value
  t.match(drawn, /<label for="f-people">People <span class="muted">\(required\)<\/span><\/label>/, 'the English half of the title')
  t.match(drawn, /<textarea id="f-people" name="f\.people"[^>]*>\[\n {2}\{\n {4}&quot;regnum&quot;: &quot;УБ99032712&quot;/, 'JSON prefilled from the example')
  t.match(drawn, /<input id="f-on" name="f\.on" value="" type="date"/)
  t.match(drawn, /<input id="f-note" name="f\.note" value="" type="text" maxlength="10"/)
  t.match(drawn, /<input type="checkbox" id="f-assets-1" name="f\.assets" value="land">/)
  t.match(formFields(plan, initialValues(plan), new Map(), 'mn').value, /<label for="f-kind">Төрөл/, 'the Mongolian half')

  const read = readForm(plan, { 'f.kind': '3', 'f.people': '[', 'f.months': '1\n 2 \n\nx', 'f.assets': 'land', 'f.paid': 'false', 'f.amount': '12,5', 'f.note': '  ' }, 'en')
  t.same(read.form, { kind: 3, months: [1, 2, 'x'], assets: ['land'], paid: false, amount: 12.5 }, 'converted where it can be, as typed where not, empty left out')
  t.match(read.problems.get(fieldKey('people')), [/^This is not valid JSON: /], 'JSON that does not parse is a problem of its field')
  t.same(read.values['f.people'], '[', 'what was typed is kept')
  const marked = formFields(plan, read.values, read.problems, 'en').value
  t.match(marked, /<textarea id="f-people" name="f\.people" rows="6" autocomplete="off" spellcheck="false" aria-describedby="f-people-hint f-people-error" aria-invalid="true" aria-required="true">\[<\/textarea>/)
})

t.test('the API\'s field errors go beside their fields', async (t) => {
  const plan = planForm({ type: 'object', properties: { 'a/b': { type: 'string' }, children: { type: 'array', items: { type: 'string' } } } })
  const problems = problemsByField(plan, [
    { pointer: '/form/children/1', detail: 'must match pattern' },
    { pointer: '/form/a~1b', detail: 'must be string' },
    { pointer: '/applicant/regnum', detail: 'not valid' },
    { pointer: '/form/extra', detail: 'is not an allowed property' },
    { pointer: '/unit', detail: 'no administrative unit' },
  ], 'x')
  t.same(problems, new Map([
    [fieldKey('children'), ['/1: must match pattern']],
    [fieldKey('a/b'), ['must be string']],
    ['regnum', ['not valid']],
    ['', ['extra: is not an allowed property', '/unit: no administrative unit']],
  ]))
  const whole = planForm({ oneOf: [{ type: 'object' }], examples: [{ x: 1 }] })
  t.ok(whole.whole, 'a schema that is more than fields is one JSON box')
  t.same(initialValues(whole), { 'form.json': '{\n  "x": 1\n}' })
  t.same(problemsByField(whole, [{ pointer: '/form/x', detail: 'must be string' }], 'x'), new Map([['form', ['/x must be string']]]))
  t.same(readForm(whole, { 'form.json': '[1]' }, 'en').problems, new Map([['form', ['This is not valid JSON']]]), 'the whole form must be an object')
})
