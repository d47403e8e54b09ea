import { CATALOGUE_MESSAGES } from './messages/catalogue.ts'
import { DESK_MESSAGES } from './messages/desk.ts'
import { OPERATIONS_MESSAGES } from './messages/operations.ts'
import { STATS_MESSAGES } from './messages/stats.ts'

// The console's words in Mongolian and English, one file per part of the
// console. A key missing in one language is a type error, not a blank on
// the page.
export type Lang = 'mn' | 'en'
export type Messages = Record<string, Record<Lang, string>>

const CORE = {
  'app.name': { mn: 'ТҮЦ гарц · удирдлагын самбар', en: 'OSS gateway console' },
  'a11y.skip': { mn: 'Үндсэн агуулга руу очих', en: 'Skip to the main content' },
  'lang.switch': { mn: 'Монгол', en: 'English' },
  'nav.label': { mn: 'Үндсэн цэс', en: 'Main menu' },
  'nav.home': { mn: 'Нүүр', en: 'Home' },
  'nav.catalogue': { mn: 'Үйлчилгээний каталог', en: 'Service catalogue' },
  'nav.stats': { mn: 'Хяналт-шинжилгээ', en: 'Monitoring' },
  'nav.operations': { mn: 'Үйл ажиллагаа', en: 'Operations' },
  'nav.queues': { mn: 'Дарааллын самбар', en: 'Queue dashboard' },
  'nav.desk': { mn: 'ТҮЦ-ийн ширээ', en: 'OSS desk' },
  'role.admin': { mn: 'администратор', en: 'administrator' },
  'role.analyst': { mn: 'шинжээч', en: 'analyst' },
  'role.officer': { mn: 'ажилтан', en: 'officer' },
  'auth.signIn': { mn: 'Нэвтрэх', en: 'Sign in' },
  'auth.signInIntro': { mn: 'Байгууллагынхаа нэвтрэлтийн үйлчилгээгээр нэвтэрнэ үү.', en: 'Sign in through your organisation\'s identity provider.' },
  'auth.logout': { mn: 'Гарах', en: 'Sign out' },
  'auth.signedOut': { mn: 'Та гарлаа.', en: 'You have signed out.' },
  'auth.devUsers': { mn: 'Хөгжүүлэлтийн хэрэглэгчид', en: 'Development users' },
  'auth.devUsersNote': { mn: 'Энэ нь хөгжүүлэлтийн горим: нууц үггүй, зөвхөн энэ компьютер дээр.', en: 'Development mode: no password, on this computer only.' },
  'auth.user': { mn: 'Хэрэглэгч', en: 'User' },
  'auth.failed': { mn: 'Нэвтэрч чадсангүй', en: 'Sign-in failed' },
  'home.title': { mn: 'Тавтай морил', en: 'Welcome' },
  'home.intro': { mn: 'Таны эрхээр нээгдэх хэсгүүд:', en: 'What your role opens:' },
  'error.title': { mn: 'Алдаа', en: 'Error' },
  'error.back': { mn: 'Нүүр хуудас руу буцах', en: 'Back to the home page' },
  'error.code': { mn: 'Код', en: 'Code' },
  'home.admin': { mn: 'Каталогийг засах, нийтлэх, түүх, импорт ба экспорт, уялдааны тайлан.', en: 'Edit, publish and restore the catalogue, import and export it, and read the consistency report.' },
  'home.stats': { mn: 'Үзүүлэлтүүд, график, нэгжүүдийн эрэмбэ, хэвлэх тайлан.', en: 'Indicators, charts, rankings of units and the printable report.' },
  'home.operations': { mn: 'Хүргэлтийн байдал, адаптер, аудитын бүртгэл, буцах дуудлага.', en: 'Delivery health, adapters, the audit log and portal callbacks.' },
  'home.desk': { mn: 'Иргэнийг зорилготойгоор шалгах, өргөдөл хүлээн авах, нэгжийн өргөдлүүд.', en: 'Look a citizen up for a purpose, take an application, follow your unit\'s applications.' },
  'home.queues': { mn: 'BullMQ дарааллыг зөвхөн харах самбар.', en: 'The read-only BullMQ queue dashboard.' },
  'signedOut.again': { mn: 'Дахин нэвтрэх', en: 'Sign in again' },
} as const satisfies Messages

const MESSAGES = { ...CORE, ...CATALOGUE_MESSAGES, ...STATS_MESSAGES, ...OPERATIONS_MESSAGES, ...DESK_MESSAGES }

export type MessageKey = keyof typeof MESSAGES

export function t (lang: Lang, key: MessageKey): string {
  return MESSAGES[key][lang]
}
