// Layout check run in the page by tests/browser/test_layout.py: returns one sentence per overflow, clip or overlap.
() => {
  const TOL = 1; // sub-pixel rounding
  const out = [];
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  };
  const label = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    const cls = typeof el.className === 'string' ? el.className.trim() : '';
    if (cls) s += '.' + cls.split(/\s+/).slice(0, 2).join('.');
    const text = (el.textContent || '').trim().slice(0, 30);
    return text ? `${s} "${text}"` : s;
  };
  const where = (el) => { const p = el.closest('.card, .kpi'); const h = p && p.querySelector('h3, .kpi-label'); return h ? h.textContent.trim() : label(p || el); };
  const inside = (r, p) => r.left >= p.left - TOL && r.right <= p.right + TOL && r.top >= p.top - TOL && r.bottom <= p.bottom + TOL;
  const meet = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > TOL && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > TOL;
  // third-party widgets clip and scroll inside themselves by design: check their root box only
  const opaque = (el) => el.closest('.ag-root-wrapper, .js-plotly-plot') !== null && !el.matches('.ag-root-wrapper, .js-plotly-plot');
  // content under a scrolling or clipping box inside the panel is that box's business (checked below)
  const clipped = (el, panel) => { for (let a = el.parentElement; a && a !== panel; a = a.parentElement) if (getComputedStyle(a).overflowX !== 'visible') return true; return false; };
  const tiny = (el) => { const r = el.getBoundingClientRect(); return r.width <= 1 || r.height <= 1; }; // screen-reader-only text
  const panels = [...document.querySelectorAll('.card, .kpi, .health-grid > div, .rule-set')].filter(shown);
  for (const panel of panels) {
    const p = panel.getBoundingClientRect();
    for (const el of panel.querySelectorAll('*')) {
      if (opaque(el) || !shown(el) || tiny(el)) continue;
      const r = el.getBoundingClientRect();
      if (!clipped(el, panel) && !inside(r, p)) out.push(`${where(panel)}: ${label(el)} spills out of its panel`);
      const s = getComputedStyle(el);
      if (['auto', 'scroll', 'hidden'].includes(s.overflowX) && el.scrollWidth > el.clientWidth + TOL)
        out.push(`${where(panel)}: ${label(el)} hides ${el.scrollWidth - el.clientWidth}px of its content`);
    }
    for (const cell of panel.querySelectorAll('td, th, h3, h4, legend, label, .kpi-label, .kpi-value, .ag-header-cell-text, .ag-cell[col-id="time"]')) {
      if (shown(cell) && cell.scrollWidth > cell.clientWidth)  // no tolerance: a pixel over is an ellipsis
        out.push(`${where(panel)}: text of ${label(cell)} is cut (${cell.scrollWidth} > ${cell.clientWidth})`);
    }
  }
  for (const a of panels) for (const b of panels) {
    if (a !== b && a.parentElement === b.parentElement && a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING
        && meet(a.getBoundingClientRect(), b.getBoundingClientRect()))
      out.push(`panels overlap: ${where(a)} / ${where(b)}`);
  }
  // chart text: every label inside its chart, axis titles clear of tick labels and the legend
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const box = plot.getBoundingClientRect();
    const texts = [...plot.querySelectorAll('svg text')].filter((t) => shown(t) && (t.textContent || '').trim());
    for (const t of texts) if (!inside(t.getBoundingClientRect(), box)) out.push(`${where(plot)}: chart text "${t.textContent}" outside the chart`);
    const titles = texts.filter((t) => t.closest('[class*="title"]'));
    const others = texts.filter((t) => !t.closest('[class*="title"]'));
    for (const t of titles) for (const o of others)
      if (meet(t.getBoundingClientRect(), o.getBoundingClientRect())) out.push(`${where(plot)}: title "${t.textContent}" overlaps "${o.textContent}"`);
  }
  if (document.documentElement.scrollWidth > document.documentElement.clientWidth + TOL)
    out.push(`the page scrolls sideways (${document.documentElement.scrollWidth} > ${document.documentElement.clientWidth})`);
  return out;
}
