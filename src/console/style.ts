// The console's one stylesheet, served by the gateway (no font or file from
// elsewhere): system fonts, readable on a tablet, visible keyboard focus.
export const CONSOLE_CSS = `
:root { --ink: #1b1f24; --muted: #5b6470; --line: #d0d5dc; --accent: #0b5cad; --bad: #a61b1b; --ok: #1d6b32; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; color: var(--ink); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f0a202; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: .5rem; }
.skip:focus { left: .5rem; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .6rem 1rem; background: #fff; border-bottom: 1px solid var(--line); }
header.top .brand { font-weight: 600; }
header.top nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
header.top nav a[aria-current] { font-weight: 600; text-decoration: none; border-bottom: 2px solid var(--accent); }
header.top .who { margin-left: auto; display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; color: var(--muted); }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
main:focus { outline: none; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
form.inline { display: inline; }
button, .button { font: inherit; padding: .45rem .9rem; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 4px; cursor: pointer; text-decoration: none; display: inline-block; }
button.secondary, .button.secondary { background: #fff; color: var(--accent); }
input, select, textarea { font: inherit; padding: .4rem; border: 1px solid var(--line); border-radius: 4px; width: 100%; background: #fff; }
input[type=checkbox], input[type=radio] { width: auto; }
label { display: block; font-weight: 500; margin: .6rem 0 .2rem; }
fieldset { border: 1px solid var(--line); border-radius: 4px; margin: .8rem 0; padding: .5rem .8rem; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 0 1rem; }
@media (max-width: 40rem) { .pair { grid-template-columns: 1fr; } }
.field-error { color: var(--bad); font-size: .9rem; margin: .2rem 0 0; }
[aria-invalid=true] { border-color: var(--bad); }
.notice { padding: .6rem .8rem; border-radius: 4px; background: #eef4fb; border: 1px solid #bcd3ee; margin: .8rem 0; }
.notice.bad { background: #fbeeee; border-color: #e6b8b8; }
.notice.ok { background: #edf7ef; border-color: #b6dcbf; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); gap: 1rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem; }
.muted { color: var(--muted); }
del { background: #fbeeee; } ins { background: #edf7ef; text-decoration: none; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .92em; }
.scroll { overflow-x: auto; }
svg { max-width: 100%; height: auto; }
.stats-block { margin: 1rem 0; }
.card h3 { font-size: 1rem; margin: 0 0 .4rem; }
.card > h2:first-child { margin-top: .5rem; }
.subnav ul { display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; list-style: none; margin: 0 0 1rem; padding: 0; }
nav.subnav p { margin: 0 0 1rem; }
.subnav a[aria-current] { font-weight: 600; text-decoration: none; border-bottom: 2px solid var(--accent); }
.chain-point { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: .5rem 0 0; }
.chain-point dd { margin: 0; }
.chain-point .seq { font-size: 1.4rem; }
.chain-point .hash { font-size: 1.15rem; word-spacing: .25em; }
.desk-nav a { margin: 0 .25rem .4rem 0; }
.hint, p.muted[id$="-hint"] { margin: .1rem 0 .3rem; font-size: .9rem; }
.cards.sources .card.wide { grid-column: 1 / -1; }
dl.fields { display: grid; grid-template-columns: minmax(8rem, max-content) 1fr; gap: .2rem 1rem; margin: .4rem 0; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; }
@media (max-width: 40rem) { dl.fields { grid-template-columns: 1fr; } dl.fields dd { margin-bottom: .3rem; } }
fieldset.choices label { display: inline-block; font-weight: normal; margin: .2rem 1.2rem .2rem 0; }
input.code { max-width: 12rem; font-size: 1.3rem; letter-spacing: .25em; font-variant-numeric: tabular-nums; }
.consent-offer { margin: .8rem 0; }
.consent-offer h2 { margin-top: .3rem; }
@media print { header.top, .noprint { display: none; } body { background: #fff; } }
`
