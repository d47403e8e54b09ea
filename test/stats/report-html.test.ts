import t from 'tap'
import type { Lang, StatsReport } from '../../src/stats/model.ts'
import { mnAblative, renderReportHtml } from '../../src/stats/report-html.ts'
import { barChart, escapeHtml, formatNumber, lineChart, niceTicks } from '../../src/stats/svg-chart.ts'

const NARROW = '\u202f'
const EVIL = 'Алтай <script>alert(1)</script> & "Co" \'x\''

const MONTHS = ['2024-07', '2024-08', '2024-09', '2024-10', '2024-11', '2024-12', '2025-01', '2025-02', '2025-03', '2025-04', '2025-05', '2025-06']
const SERIES_VALUES = [120, 135, null, 150, '<5', 162, 170, 181, 12345, 190, 201.25, 215]

function sample (lang: Lang): StatsReport {
  const mn = lang === 'mn'
  return {
    lang,
    period: { code: '2025-06', from: '2025-06-01', to: '2025-06-30' },
    unit: { code: '65', name: mn ? 'Говь-Алтай' : 'Govi-Altai', level: 'aimag' },
    generatedAt: '2025-07-01T08:15:30.000Z',
    catalogueVersion: 42,
    suppressionThreshold: 5,
    suppressionMark: '<5',
    headline: [
      { indicator: 'applications', name: mn ? 'Өргөдөл' : 'Applications', unit: mn ? 'өргөдөл' : 'applications', value: 12345 },
      { indicator: 'on_time_rate', name: mn ? 'Хугацаандаа' : 'On time', unit: '%', value: 87.46 },
      { indicator: 'complaints', name: mn ? 'Гомдол' : 'Complaints', unit: '', value: '<5' },
      { indicator: 'median_days', name: mn ? 'Дундаж хоног' : 'Median days', unit: mn ? 'хоног' : 'days', value: null },
    ],
    series: [{
      indicator: 'applications',
      name: mn ? 'Өргөдөл сараар' : 'Applications by month',
      unit: mn ? 'өргөдөл' : 'applications',
      points: MONTHS.map((period, i) => ({ period, value: SERIES_VALUES[i] ?? null })),
    }],
    breakdowns: [
      {
        indicator: 'applications',
        name: mn ? 'Өргөдөл' : 'Applications',
        unit: mn ? 'өргөдөл' : 'applications',
        dimension: 'channel',
        dimensionName: mn ? 'Суваг' : 'Channel',
        rows: [
          { key: 'oss_counter', label: mn ? 'Цонх' : 'Counter', value: 9876 },
          { key: 'mobile_oss', label: EVIL, value: '<5' },
          { key: 'online', label: mn ? 'Цахим' : 'Online', value: 2465 },
          { key: 'other', label: 'A & B', value: null },
        ],
      },
      {
        indicator: 'applications',
        name: mn ? 'Өргөдөл' : 'Applications',
        unit: mn ? 'өргөдөл' : 'applications',
        dimension: 'sex',
        dimensionName: mn ? 'Хүйс' : 'Sex',
        rows: [
          { key: 'female', label: mn ? 'Эмэгтэй' : 'Female', value: 6543.5 },
          { key: 'male', label: mn ? 'Эрэгтэй' : 'Male', value: 5802 },
        ],
      },
    ],
    ranking: {
      indicator: 'on_time_rate',
      name: mn ? 'Хугацаандаа шийдсэн хувь' : 'Share decided on time',
      unit: '%',
      rows: [
        { rank: 1, unit: '6501', label: 'Есөнбулаг', value: 98.2 },
        { rank: 2, unit: '6502', label: EVIL, value: 91 },
        { rank: null, unit: '6503', label: 'Бигэр', value: '<5' },
        { rank: null, unit: '6504', label: 'Дэлгэр', value: null },
      ],
    },
    notes: [mn ? 'Тайлбар <b>тэмдэглэл</b>' : 'A note with <b>markup</b> & more'],
  }
}

const count = (text: string, needle: string | RegExp): number =>
  typeof needle === 'string' ? text.split(needle).length - 1 : (text.match(new RegExp(needle.source, needle.flags.includes('g') ? needle.flags : needle.flags + 'g')) ?? []).length

// Every figure the tables hold must be readable as text, escaped as the renderer escapes it.
function figureText (value: number | string | null): string {
  if (value === null) return '—'
  return escapeHtml(typeof value === 'number' ? formatNumber(value) : value)
}

t.test('formatNumber is locale-free', async (tt) => {
  tt.equal(formatNumber(0), '0')
  tt.equal(formatNumber(999), '999')
  tt.equal(formatNumber(12345), `12${NARROW}345`)
  tt.equal(formatNumber(1234567), `1${NARROW}234${NARROW}567`)
  tt.equal(formatNumber(87.46), '87.5')
  tt.equal(formatNumber(201.25), '201.3')
  tt.equal(formatNumber(3.04), '3')
  tt.equal(formatNumber(9999.96), `10${NARROW}000`)
  tt.equal(formatNumber(-1234.5), `-1${NARROW}234.5`)
  tt.equal(formatNumber(-0.01), '0')
  tt.equal(formatNumber(Number.NaN), '—')
})

t.test('escapeHtml covers the five characters', async (tt) => {
  tt.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
})

t.test('mnAblative follows the number as read aloud', async (tt) => {
  tt.equal(mnAblative(5), '5-аас')
  tt.equal(mnAblative(2), '2-оос')
  tt.equal(mnAblative(4), '4-өөс')
  tt.equal(mnAblative(7), '7-гоос')
  tt.equal(mnAblative(10), '10-аас')
  tt.equal(mnAblative(20), '20-иос')
  tt.equal(mnAblative(100), '100-гаас')
})

t.test('niceTicks gives 3 to 5 round ticks covering the data', async (tt) => {
  const cases: Array<[number, number[]]> = [
    [87, [0, 25, 50, 75, 100]],
    [100, [0, 25, 50, 75, 100]],
    [5, [0, 2, 4, 6]],
    [1, [0, 0.5, 1]],
    [0.3, [0, 0.1, 0.2, 0.3]],
    [12345, [0, 5000, 10000, 15000]],
  ]
  for (const [max, want] of cases) tt.same(niceTicks(max), want, `max ${max}`)
  for (const max of [0, 0.7, 3, 9, 13, 42, 99, 101, 999, 1001, 54321, 1e7]) {
    const ticks = niceTicks(max)
    tt.ok(ticks.length >= 3 && ticks.length <= 5, `max ${max}: ${ticks.length} ticks`)
    tt.equal(ticks[0], 0, `max ${max} starts at 0`)
    tt.ok((ticks.at(-1) ?? 0) >= max, `max ${max} covered`)
    const step = (ticks[1] ?? 0) - (ticks[0] ?? 0)
    tt.ok(step > 0, `max ${max} non-degenerate`)
    // Every tick prints exactly at one decimal or fewer.
    for (const tick of ticks) tt.equal(Number(formatNumber(tick).replaceAll(NARROW, '')), tick, `tick ${tick} prints exactly`)
  }
  tt.same(niceTicks(0), [0, 0.5, 1], 'an all-zero series still gets an axis')
  const negative = niceTicks(40, -15)
  tt.ok((negative[0] ?? 0) <= -15 && (negative.at(-1) ?? 0) >= 40, 'a negative minimum is covered')
})

t.test('lineChart breaks at nulls and is deterministic', async (tt) => {
  const points = [
    { label: 'a', value: 1 }, { label: 'b', value: 2 }, { label: 'c', value: null, note: '<5' },
    { label: 'd', value: 3 }, { label: 'e', value: 4 },
  ]
  const svg = lineChart(points, { title: 'T & <t>', unitLabel: 'u' })
  tt.equal(count(svg, '<polyline'), 2, 'two segments around the gap')
  tt.equal(count(svg, '<circle'), 4, 'a dot per known value, none for the gap')
  tt.match(svg, /<svg [^>]*role="img"[^>]*aria-label="T &amp; &lt;t&gt; \(u\)"/)
  tt.match(svg, '<title>T &amp; &lt;t&gt; (u)</title>')
  tt.match(svg, '>&lt;5</text>', 'the mark stands at the gap')
  tt.equal(svg, lineChart(points, { title: 'T & <t>', unitLabel: 'u' }))
  // Coordinates carry at most one decimal.
  for (const n of svg.match(/-?\d+\.\d+/g) ?? []) tt.ok(/^-?\d+\.\d$/.test(n), `${n} has one decimal`)

  const lone = lineChart([{ label: 'a', value: 5 }, { label: 'b', value: null }, { label: 'c', value: 6 }], { title: 'x' })
  tt.equal(count(lone, '<polyline'), 0, 'isolated points get dots, no line')
  tt.equal(count(lone, '<circle'), 2)
  tt.match(lone, '>—</text>', 'a null without a note shows a dash')
  tt.notMatch(lineChart([{ label: 'a', value: 0 }, { label: 'b', value: 0 }], { title: 'zeros' }), /NaN|Infinity/)
  tt.notMatch(lineChart([], { title: 'empty' }), /NaN|Infinity/)
})

t.test('barChart draws no bar for a gap and writes the mark there', async (tt) => {
  const svg = barChart([
    { label: 'one', value: 10 }, { label: '<b>two</b>', value: null, note: '<5' }, { label: 'three', value: 0 }, { label: 'four', value: 5 },
  ], { title: 'Bars', width: 500, unitLabel: '%' })
  tt.equal(count(svg, '<rect'), 2, 'zero and suppressed values draw no bar')
  tt.match(svg, '&lt;b&gt;two&lt;/b&gt;')
  tt.match(svg, '>&lt;5</text>')
  tt.match(svg, /role="img"/)
  tt.match(svg, '<title>Bars (%)</title>')
  tt.match(svg, 'viewBox="0 0 500 ')
  const widths = [...svg.matchAll(/<rect [^>]*width="([\d.]+)"/g)].map((m) => Number(m[1]))
  tt.ok((widths[0] ?? 0) > (widths[1] ?? 0) && Math.abs((widths[0] ?? 0) / 2 - (widths[1] ?? 0)) < 0.2, 'bars are proportional')
  tt.notMatch(barChart([{ label: 'z', value: 0 }, { label: 'n', value: null }], { title: 'zeros' }), /NaN|Infinity/)
  tt.notMatch(barChart([], { title: 'empty' }), /NaN|Infinity/)
})

for (const lang of ['mn', 'en'] as const) {
  t.test(`the ${lang} report is a standalone, escaped document`, async (tt) => {
    const report = sample(lang)
    const html = renderReportHtml(report)

    tt.ok(html.startsWith('<!doctype html>\n'), 'doctype first')
    tt.match(html, `<html lang="${lang}">`)
    tt.match(html, '<meta charset="utf-8">')
    tt.match(html, /<title>[^<]+<\/title>/)
    tt.equal(count(html, '<head>'), 1)
    tt.equal(count(html, '<body>'), 1)
    tt.ok(html.trimEnd().endsWith('</html>'))
    tt.equal(count(html, '<style>'), 1, 'one inline stylesheet')
    tt.match(html, '@page { size: A4; margin: 15mm; }')
    tt.match(html, '@media print')
    tt.match(html, 'break-inside: avoid')

    // Nothing runs, nothing is fetched.
    tt.notOk(/<script/i.test(html), 'no script element')
    tt.match(html, '&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot; &#39;x&#39;', 'the hostile label is escaped')
    for (const banned of ['http://', 'https://', '//cdn', '@import', 'url(', '<link', '<img', 'src=', 'href=', '<iframe']) {
      tt.notOk(html.toLowerCase().includes(banned), `no ${banned}`)
    }
    tt.match(html, `<li>${escapeHtml(report.notes[0] ?? '')}</li>`, 'notes are escaped')

    // Fixed strings are in the report's language.
    if (lang === 'mn') {
      tt.match(html, 'Нэг цэгийн үйлчилгээний тайлан')
      for (const word of ['Хугацаа', 'Нэгж', 'Үзүүлэлт', 'Утга', 'Эрэмбэ']) tt.match(html, `>${word}`)
      tt.match(html, '«&lt;5» гэсэн нүд 5-аас цөөн хүнийг тоолсон тул нууцлагдсан')
      tt.notOk(html.includes('One-Stop-Shop services report'))
    } else {
      tt.match(html, 'One-Stop-Shop services report')
      for (const word of ['Period', 'Unit', 'Indicator', 'Value', 'Rank']) tt.match(html, `>${word}`)
      tt.match(html, 'Cells marked “&lt;5” count fewer than 5 people and are suppressed')
      tt.notOk(html.includes('Нэг цэгийн үйлчилгээний тайлан'))
    }

    // Header facts.
    tt.match(html, escapeHtml(report.unit.name))
    tt.match(html, '2025-06 (<time datetime="2025-06-01">2025-06-01</time> – <time datetime="2025-06-30">2025-06-30</time>)')
    tt.match(html, '2025-07-01 08:15 UTC')
    tt.match(html, '<dd>42</dd>')

    // Every headline and breakdown figure is in a table cell, as text.
    for (const h of report.headline) {
      tt.match(html, escapeHtml(h.name))
      const text = figureText(h.value)
      const expected = h.value === null || h.unit === '' ? text : `${text} ${escapeHtml(h.unit)}`
      tt.match(html, `>${expected}</td>`, `headline ${h.indicator}`)
    }
    tt.match(html, `>12${NARROW}345 `, 'grouped integer')
    tt.match(html, '>87.5 %</td>', 'one decimal')
    for (const b of report.breakdowns) {
      for (const row of b.rows) {
        tt.match(html, `<tr><th scope="row">${escapeHtml(row.label)}</th><td class="num${typeof row.value === 'number' ? '' : ' gap'}">${figureText(row.value)}</td></tr>`, `breakdown ${b.dimension}/${row.key}`)
      }
    }
    for (const p of report.series[0]?.points ?? []) {
      tt.match(html, `<tr><th scope="row">${p.period}</th><td class="num${typeof p.value === 'number' ? '' : ' gap'}">${figureText(p.value)}</td></tr>`, `series ${p.period}`)
    }
    for (const row of report.ranking?.rows ?? []) {
      tt.match(html, `<tr><td class="num">${row.rank ?? '—'}</td><th scope="row">${escapeHtml(row.label)}</th><td class="num${typeof row.value === 'number' ? '' : ' gap'}">${figureText(row.value)}</td></tr>`, `ranking ${row.unit}`)
    }
    tt.ok(count(html, '>&lt;5</td>') >= 3, 'suppressed cells read <5')
    tt.ok(count(html, '>—</td>') >= 3, 'null cells read as a dash')

    // Charts: one line chart per series, one bar chart per breakdown and for the ranking.
    const svgs = html.match(/<svg [^>]*>/g) ?? []
    tt.equal(svgs.length, 1 + 2 + 1)
    tt.equal(count(html, '</svg>'), svgs.length, 'balanced svg')
    for (const open of svgs) {
      tt.match(open, 'role="img"')
      tt.match(open, /aria-label="[^"]+"/)
      tt.notOk(open.includes('xmlns'), 'no namespace URL')
    }
    tt.equal(count(html, /<svg [^>]*>(?:(?!<\/svg>).)*?<title>[^<]+<\/title>/gs), svgs.length, 'each chart has a title')
    tt.equal(count(html, '<polyline'), 2, 'the series line breaks at the null and the suppressed month')
    tt.ok(count(html, '<rect') >= 5, 'bars drawn')
    tt.notOk(/NaN|Infinity|undefined/.test(html), 'no broken numbers')

    // Structure, loosely.
    tt.equal(count(html, '<table>'), 1 + 1 + 2 + 1)
    tt.equal(count(html, '</table>'), count(html, '<table>'))
    for (const tag of ['figure', 'section', 'thead', 'tbody', 'ul', 'dl', 'header', 'main']) {
      tt.equal(count(html, new RegExp(`<${tag}[ >]`, 'g')), count(html, `</${tag}>`), `balanced ${tag}`)
    }
    tt.equal(count(html, '<tr>'), count(html, '</tr>'), 'balanced tr')
    tt.equal(count(html, /<text[ >]/g), count(html, '</text>'), 'balanced svg text')

    tt.equal(renderReportHtml(report), html, 'deterministic')
  })
}

t.test('a report without ranking, series or breakdowns still renders', async (tt) => {
  const report: StatsReport = { ...sample('en'), series: [], breakdowns: [], ranking: null, notes: [], suppressionThreshold: 10, suppressionMark: '<10' }
  const html = renderReportHtml(report)
  tt.notOk(html.includes('<svg'))
  tt.equal(count(html, '<table>'), 1)
  tt.match(html, 'Cells marked “&lt;10” count fewer than 10 people')
  tt.match(renderReportHtml({ ...report, lang: 'mn' }), '«&lt;10» гэсэн нүд 10-аас цөөн хүнийг')
})
