import t from 'tap'
import { identityFromClaims, parseRoleMap, type RoleMapping } from '../../src/console/identity.ts'

const mapping: RoleMapping = { roleClaim: 'groups', unitClaim: 'aimag', agencyClaim: 'agency', roles: parseRoleMap('oss-admins=admin, m-e=analyst, oss-staff=officer') }
const ISSUER = 'https://login.example.mn'

t.test('claims become one console role, deny by default', async (t) => {
  t.same(identityFromClaims({ sub: 'u1', name: 'Bold', groups: ['staff', 'oss-admins'] }, ISSUER, mapping), { role: 'admin', sub: 'u1', issuer: ISSUER, name: 'Bold' })
  t.same(identityFromClaims({ sub: 'u2', groups: 'm-e', aimag: '62' }, ISSUER, mapping), { role: 'analyst', sub: 'u2', issuer: ISSUER, name: 'u2', unit: '62' })
  t.same(identityFromClaims({ sub: 'u3', groups: ['oss-staff'], aimag: '8322', agency: 'GOSW' }, ISSUER, mapping),
    { role: 'officer', sub: 'u3', issuer: ISSUER, name: 'u3', unit: '8322', agency: 'GOSW' })
  t.throws(() => identityFromClaims({ sub: 'u4', groups: ['staff'] }, ISSUER, mapping), { name: 'SignInRefusedError', message: /no console role.*"groups"/ })
  t.throws(() => identityFromClaims({ sub: 'u5' }, ISSUER, mapping), { message: /no console role/ })
  t.throws(() => identityFromClaims({ sub: 'u6', groups: ['oss-admins', 'm-e'], aimag: '62' }, ISSUER, mapping), { message: /several console roles/ })
  t.throws(() => identityFromClaims({ sub: 'u7', groups: ['m-e'] }, ISSUER, mapping), { message: /analyst needs an administrative unit code in the "aimag" claim/ })
  t.throws(() => identityFromClaims({ sub: 'u8', groups: ['oss-staff'], aimag: '8322' }, ISSUER, mapping), { message: /officer needs an agency code/ })
  t.throws(() => identityFromClaims({ sub: 'u9', groups: ['m-e'], aimag: '62 OR 1=1' }, ISSUER, mapping), { message: /unit code/ })
  t.throws(() => identityFromClaims({ groups: ['oss-admins'] }, ISSUER, mapping), { message: /no subject/ })
  t.throws(() => identityFromClaims({ sub: 42, groups: ['oss-admins'] }, ISSUER, mapping), { message: /no subject/ })
})

t.test('the role map', async (t) => {
  t.same([...parseRoleMap('')], [['admin', 'admin'], ['analyst', 'analyst'], ['officer', 'officer']], 'empty: each role by its own name')
  t.throws(() => parseRoleMap('admins=root'), { message: /"admins=root" is not claim-value=role/ })
  t.throws(() => parseRoleMap('=admin'), { message: /is not claim-value=role/ })
})
