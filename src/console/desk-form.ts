import { html, type Html } from './html.ts'
import { t, type Lang } from './messages.ts'

// A service's application form, drawn from its formSchema (JSON Schema): the
// simple fields as inputs, anything else as JSON prefilled from the schema's
// first example. What was typed goes to the API as typed where it cannot be
// converted, so that the API, not the console, says what is wrong with it.

type Scalar = string | number | boolean | null

export type FieldKind =
  | { kind: 'text', format: 'date' | 'email' | null, maxLength: number | null }
  | { kind: 'number', integer: boolean }
  | { kind: 'choice', options: Scalar[] }
  | { kind: 'boolean' }
  | { kind: 'list', item: 'string' | 'integer' | 'number' }
  | { kind: 'choices', options: Scalar[] }
  | { kind: 'json' }

export type FormField = FieldKind & { name: string, title: unknown, required: boolean, example: unknown }

export interface FormPlan {
  // True when the schema is not a plain object of properties: one JSON box.
  whole: boolean
  fields: FormField[]
  example: unknown
}

// Raw values as the browser sent them, by input name.
export type FormValues = Record<string, string | string[]>
// Messages by field: `f:` and a property of the form, 'regnum' (the
// applicant), 'form' (the whole form as JSON) or '' (the page).
export type FieldProblems = Map<string, string[]>
export const fieldKey = (property: string) => `f:${property}`

type Schema = Record<string, unknown>

const isObject = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v)
const isScalar = (v: unknown): v is Scalar => v === null || ['string', 'number', 'boolean'].includes(typeof v)
// Keywords that make a schema more than a list of fields.
const COMBINED = ['oneOf', 'anyOf', 'allOf', 'not', 'if', 'then', 'else', 'patternProperties', 'dependentRequired', 'dependentSchemas', '$ref']

function scalarEnum (s: Schema): Scalar[] | null {
  return Array.isArray(s.enum) && s.enum.length > 0 && s.enum.every(isScalar) ? s.enum : null
}

function kindOf (s: Schema): FieldKind {
  if (COMBINED.some((k) => k in s)) return { kind: 'json' }
  const options = scalarEnum(s)
  if (options !== null) return { kind: 'choice', options }
  switch (s.type) {
    case 'string':
      return { kind: 'text', format: s.format === 'date' || s.format === 'email' ? s.format : null, maxLength: typeof s.maxLength === 'number' ? s.maxLength : null }
    case 'integer':
    case 'number':
      return { kind: 'number', integer: s.type === 'integer' }
    case 'boolean':
      return { kind: 'boolean' }
    case 'array': {
      const items = isObject(s.items) ? s.items : null
      if (items === null || COMBINED.some((k) => k in items)) return { kind: 'json' }
      const choices = scalarEnum(items)
      if (choices !== null) return { kind: 'choices', options: choices }
      if (items.type === 'string' && items.enum === undefined) return { kind: 'list', item: 'string' }
      if (items.type === 'integer' || items.type === 'number') return { kind: 'list', item: items.type }
      return { kind: 'json' }
    }
    default:
      return { kind: 'json' }
  }
}

export function planForm (schema: unknown): FormPlan {
  const example = isObject(schema) && Array.isArray(schema.examples) ? schema.examples[0] : undefined
  if (!isObject(schema) || schema.type !== 'object' || !isObject(schema.properties) || COMBINED.some((k) => k in schema)) {
    return { whole: true, fields: [], example }
  }
  const requiredOrder = Array.isArray(schema.required) ? schema.required.map(String) : []
  const required = new Set(requiredOrder)
  // The catalogue keeps schemas in jsonb, which reorders object keys; the
  // `required` list keeps its order, so the required fields come first, as
  // the service lists them.
  const rank = (name: string) => (required.has(name) ? requiredOrder.indexOf(name) : requiredOrder.length)
  const fields = Object.entries(schema.properties).map(([name, prop]): FormField => {
    const s = isObject(prop) ? prop : {}
    return { ...kindOf(s), name, title: s.title, required: required.has(name), example: isObject(example) ? example[name] : undefined }
  }).sort((a, b) => rank(a.name) - rank(b.name))
  return { whole: false, fields, example }
}

const inputName = (field: string) => `f.${field}`
const WHOLE = 'form.json'
const idOf = (field: string) => `f-${field.replace(/[^A-Za-z0-9_-]/g, '_')}`
const pretty = (v: unknown) => (v === undefined ? '' : JSON.stringify(v, null, 2))

// The values a freshly drawn form starts with: the JSON boxes hold the example.
export function initialValues (plan: FormPlan): FormValues {
  if (plan.whole) return { [WHOLE]: pretty(plan.example ?? {}) }
  return Object.fromEntries(plan.fields.filter((f) => f.kind === 'json').map((f) => [inputName(f.name), pretty(f.example)]))
}

function one (v: unknown): string {
  if (typeof v === 'string') return v
  return Array.isArray(v) && typeof v[0] === 'string' ? v[0] : ''
}

function many (v: unknown): string[] {
  if (typeof v === 'string') return [v]
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}

function asNumber (raw: string, integer: boolean): number | string {
  const pattern = integer ? /^-?[0-9]+$/ : /^-?[0-9]+([.,][0-9]+)?$/
  const compact = raw.replace(/[\s\u202f]/g, '')
  return pattern.test(compact) ? Number(compact.replace(',', '.')) : raw
}

function asOption (raw: string, options: Scalar[]): Scalar {
  return options.find((o) => String(o) === raw) ?? raw
}

// The form's JSON from what the browser sent, with the raw values to draw
// the form again and the problems found here (JSON that does not parse).
export function readForm (plan: FormPlan, body: Record<string, unknown>, lang: Lang): { form: Record<string, unknown>, values: FormValues, problems: FieldProblems } {
  const values: FormValues = {}
  const problems: FieldProblems = new Map()
  const parseJson = (key: string, raw: string): unknown => {
    try {
      return JSON.parse(raw)
    } catch (err) {
      problems.set(key, [`${t(lang, 'desk.apply.badJson')}: ${(err as Error).message}`])
      return undefined
    }
  }
  if (plan.whole) {
    const raw = one(body[WHOLE])
    values[WHOLE] = raw
    const parsed = raw.trim() === '' ? {} : parseJson('form', raw)
    if (parsed !== undefined && !isObject(parsed)) problems.set('form', [t(lang, 'desk.apply.badJson')])
    return { form: isObject(parsed) ? parsed : {}, values, problems }
  }
  const form: Record<string, unknown> = {}
  for (const f of plan.fields) {
    const sent = body[inputName(f.name)]
    if (f.kind === 'choices') {
      const picked = many(sent)
      values[inputName(f.name)] = picked
      if (picked.length > 0) form[f.name] = picked.map((p) => asOption(p, f.options))
      continue
    }
    const raw = one(sent)
    values[inputName(f.name)] = raw
    const text = raw.trim()
    if (text === '') continue
    switch (f.kind) {
      case 'text': form[f.name] = text; break
      case 'number': form[f.name] = asNumber(text, f.integer); break
      case 'choice': form[f.name] = asOption(text, f.options); break
      case 'boolean': form[f.name] = text === 'true' ? true : text === 'false' ? false : text; break
      case 'list': {
        const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '')
        form[f.name] = f.item === 'string' ? lines : lines.map((l) => asNumber(l, f.item === 'integer'))
        break
      }
      case 'json': {
        const parsed = parseJson(fieldKey(f.name), raw)
        if (parsed !== undefined) form[f.name] = parsed
        break
      }
    }
  }
  return { form, values, problems }
}

function unescapePointer (segment: string): string {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~')
}

// The API's field errors, each beside its field: /form/children/1 by the
// children field, /applicant/regnum by the registration number; what has
// no field of its own goes at the top of the page.
export function problemsByField (plan: FormPlan, errors: ReadonlyArray<{ pointer?: string, detail?: string }>, fallback: string): FieldProblems {
  const out: FieldProblems = new Map()
  const add = (key: string, detail: string) => out.set(key, [...(out.get(key) ?? []), detail])
  const names = new Set(plan.fields.map((f) => f.name))
  for (const e of errors) {
    const pointer = e.pointer ?? ''
    const detail = e.detail ?? fallback
    const [, top = '', field, ...rest] = pointer.split('/')
    if (top === 'applicant') {
      add('regnum', detail)
    } else if (top === 'form') {
      const name = field === undefined ? '' : unescapePointer(field)
      const at = rest.length === 0 ? '' : `/${rest.map(unescapePointer).join('/')}: `
      if (plan.whole) add('form', `${pointer.slice('/form'.length)} ${detail}`.trim())
      else if (names.has(name)) add(fieldKey(name), `${at}${detail}`)
      else add('', `${name === '' ? '' : `${name}: `}${detail}`)
    } else {
      add('', `${pointer === '' ? '' : `${pointer}: `}${detail}`)
    }
  }
  return out
}

// "Монгол нэр / English name", as the catalogue writes form titles.
export function fieldTitle (title: unknown, lang: Lang, fallback: string): string {
  if (typeof title !== 'string' || title.trim() === '') return fallback
  const parts = title.split(' / ')
  return parts.length === 2 ? parts[lang === 'mn' ? 0 : 1]!.trim() : title
}

export function describedBy (...ids: Array<string | null>): Html {
  const present = ids.filter((id): id is string => id !== null)
  return present.length === 0 ? html`` : html` aria-describedby="${present.join(' ')}"`
}

export function errorLine (id: string, messages: string[] | undefined): Html {
  return messages === undefined || messages.length === 0 ? html`` : html`<p class="field-error" id="${id}-error">${messages.join('; ')}</p>`
}

export function invalid (messages: string[] | undefined): Html {
  return messages === undefined || messages.length === 0 ? html`` : html` aria-invalid="true"`
}

export function requiredMark (lang: Lang, required: boolean): Html {
  return required ? html` <span class="muted">(${t(lang, 'desk.required')})</span>` : html``
}

function fieldHtml (f: FormField, values: FormValues, problems: FieldProblems, lang: Lang): Html {
  const id = idOf(f.name)
  const name = inputName(f.name)
  const errs = problems.get(fieldKey(f.name))
  const raw = values[name]
  const value = typeof raw === 'string' ? raw : ''
  const label = fieldTitle(f.title, lang, f.name)
  const exampleText = isScalar(f.example) && f.example !== null ? String(f.example) : Array.isArray(f.example) && f.example.every(isScalar) ? f.example.join(', ') : null
  const hintText = f.kind === 'list'
    ? `${t(lang, 'desk.apply.onePerLine')}${exampleText === null ? '' : ` ${t(lang, 'desk.apply.example')}: ${exampleText}`}`
    : f.kind === 'json'
      ? t(lang, 'desk.apply.json')
      : (f.kind === 'text' || f.kind === 'number') && exampleText !== null ? `${t(lang, 'desk.apply.example')}: ${exampleText}` : null
  const hint = hintText === null ? html`` : html`<p class="muted hint" id="${id}-hint">${hintText}</p>`
  const aria = html`${describedBy(hintText === null ? null : `${id}-hint`, errs === undefined ? null : `${id}-error`)}${invalid(errs)}${f.required ? html` aria-required="true"` : ''}`
  const labelled = (control: Html) => html`<div><label for="${id}">${label}${requiredMark(lang, f.required)}</label>${hint}${control}${errorLine(id, errs)}</div>`
  switch (f.kind) {
    case 'text':
      return labelled(html`<input id="${id}" name="${name}" value="${value}" type="${f.format === 'date' ? 'date' : f.format === 'email' ? 'email' : 'text'}"${f.maxLength === null ? '' : html` maxlength="${f.maxLength}"`} autocomplete="off"${aria}>`)
    case 'number':
      return labelled(html`<input id="${id}" name="${name}" value="${value}" inputmode="${f.integer ? 'numeric' : 'decimal'}" autocomplete="off"${aria}>`)
    case 'choice':
      return labelled(html`<select id="${id}" name="${name}"${aria}><option value="">${t(lang, 'desk.choose')}</option>${f.options.map((o) => html`<option value="${String(o)}"${String(o) === value ? html` selected` : ''}>${String(o)}</option>`)}</select>`)
    case 'boolean':
      return labelled(html`<select id="${id}" name="${name}"${aria}><option value="">${t(lang, 'desk.choose')}</option><option value="true"${value === 'true' ? html` selected` : ''}>${t(lang, 'desk.yes')}</option><option value="false"${value === 'false' ? html` selected` : ''}>${t(lang, 'desk.no')}</option></select>`)
    case 'list':
      return labelled(html`<textarea id="${id}" name="${name}" rows="3" autocomplete="off" spellcheck="false"${aria}>${value}</textarea>`)
    case 'json':
      return labelled(html`<textarea id="${id}" name="${name}" rows="6" autocomplete="off" spellcheck="false"${aria}>${value}</textarea>`)
    case 'choices': {
      const picked = Array.isArray(raw) ? raw : []
      return html`<fieldset${describedBy(errs === undefined ? null : `${id}-error`)}><legend>${label}${requiredMark(lang, f.required)}</legend>
${f.options.map((o, i) => html`<label><input type="checkbox" id="${id}-${i}" name="${name}" value="${String(o)}"${picked.includes(String(o)) ? html` checked` : ''}> ${String(o)}</label>`)}
${errorLine(id, errs)}</fieldset>`
    }
  }
}

export function formFields (plan: FormPlan, values: FormValues, problems: FieldProblems, lang: Lang): Html {
  if (plan.whole) {
    const errs = problems.get('form')
    return html`<div><label for="f-form">${t(lang, 'desk.apply.wholeForm')}</label><p class="muted hint" id="f-form-hint">${t(lang, 'desk.apply.json')}</p>
<textarea id="f-form" name="${WHOLE}" rows="12" autocomplete="off" spellcheck="false"${describedBy('f-form-hint', errs === undefined ? null : 'f-form-error')}${invalid(errs)}>${typeof values[WHOLE] === 'string' ? values[WHOLE] : ''}</textarea>${errorLine('f-form', errs)}</div>`
  }
  return html`${plan.fields.map((f) => fieldHtml(f, values, problems, lang))}`
}
