import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import type { CitizenPrincipal, OfficerPrincipal, Principal } from '../auth/principal.ts'
import type { Channel, Service } from '../catalogue/document.ts'
import { mongoliaToday, offeredThrough } from '../catalogue/offering.ts'
import { withinScope } from '../catalogue/scope.ts'
import type { Snapshot } from '../catalogue/snapshot.ts'
import { parseRegnum } from '../domain/regnum.ts'
import { ProblemError, ValidationProblem } from '../errors/problem-error.ts'
import { fieldErrors } from '../plugins/problem.ts'

// The checks an application passes before it is accepted, each with its own
// problem: the service exists in the published catalogue, it is offered at
// the unit through the channel, the caller may use the channel and apply for
// this person at this unit, and the form matches the service's schema.

export interface ApplicationBody {
  service: string
  unit: string
  channel: Channel
  applicant: { regnum: string }
  form: Record<string, unknown>
}

const ajv = new Ajv2020({ allErrors: true, strict: false })
addFormats.default(ajv as never)
const forms = new Map<string, ValidateFunction>()

function formValidator (snap: Snapshot, service: Service): ValidateFunction {
  const key = `${snap.version}:${service.code}`
  let fn = forms.get(key)
  if (fn === undefined) {
    fn = ajv.compile({ ...service.formSchema, $id: undefined, $schema: undefined })
    forms.set(key, fn)
  }
  return fn
}

export interface Accepted {
  service: Service
  regnum: string
}

export function checkApplication (snap: Snapshot, principal: Principal, body: ApplicationBody, today: string = mongoliaToday()): Accepted {
  const service = snap.service(body.service)
  if (service === undefined) {
    throw new ValidationProblem([{ in: 'body', pointer: '/service', detail: `no service ${body.service} in the published catalogue` }])
  }
  if (snap.unit(body.unit) === undefined) {
    throw new ValidationProblem([{ in: 'body', pointer: '/unit', detail: `no administrative unit ${body.unit}` }])
  }
  const parsed = parseRegnum(body.applicant.regnum)
  if (!parsed.ok) {
    throw new ProblemError('INVALID_REGNUM', `the applicant's registration number is not valid: ${parsed.message}`, {
      extensions: { rule: parsed.rule, errors: [{ in: 'body', pointer: '/applicant/regnum', detail: parsed.message }] },
    })
  }
  if (principal.role === 'citizen') {
    if (body.channel !== 'online' || !service.applicants.includes('citizen')) {
      throw new ProblemError('CHANNEL_FORBIDDEN', `citizens apply online, for services open to them; ${service.code} through ${body.channel} is for an officer`)
    }
    if ((principal as CitizenPrincipal).regnum !== parsed.value) {
      throw new ProblemError('APPLICANT_FORBIDDEN', 'a citizen may apply only for themselves')
    }
  } else if (principal.role === 'officer') {
    const officer = principal as OfficerPrincipal
    if (body.channel === 'online' || !service.applicants.includes('officer')) {
      throw new ProblemError('CHANNEL_FORBIDDEN', `officers submit at the counter or from a mobile OSS; ${service.code} through ${body.channel} is not for them`)
    }
    // An OSS serves its unit and every unit beneath it, at the counter and on
    // its mobile rounds alike.
    if (!withinScope(officer.unit, body.unit)) {
      throw new ProblemError('APPLICANT_FORBIDDEN', `an officer of ${officer.unit} may not submit applications for ${body.unit}`)
    }
  }
  if (!offeredThrough(snap, service, body.unit, body.channel, today)) {
    throw new ProblemError('SERVICE_NOT_OFFERED', `${service.code} is not offered at ${body.unit} through ${body.channel}`)
  }
  const form = formValidator(snap, service)
  if (!form(body.form)) {
    throw new ValidationProblem(fieldErrors('body', form.errors ?? []).map((e) => ({ ...e, pointer: `/form${e.pointer}` })))
  }
  return { service, regnum: parsed.value }
}
