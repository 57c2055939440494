// What a reader would call clipped or overflowing, measured on the rendered page (run by tests/browser/test_layout.py
// and docs/screenshots/make.py). Returns one sentence per problem; [] when the page fits.
() => {
  const problems = [];
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const name = (el) => {
    const cls = typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\s+/).join(".") : "";
    return `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${cls} "${(el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40)}"`;
  };
  const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const inScroller = (el) => { for (let p = el.parentElement; p; p = p.parentElement) if (scrolls(p)) return true; return false; };
  const skip = (el) => el.closest("pre, textarea, select, input, svg, [data-scrolls]") !== null;

  // The page itself never scrolls sideways.
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    problems.push(`the page is ${document.documentElement.scrollWidth}px wide in a ${window.innerWidth}px window`);

  // Cards, tables, cells, buttons, badges, tabs: their content fits their box (else it is cut or sticks out).
  for (const el of document.querySelectorAll(".card, table, th, td, .btn, button, .badge, .tab, .kpi, .kpi-value, h1, h2, label, a, code, summary")) {
    if (!visible(el) || skip(el) || scrolls(el)) continue;
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).display !== "inline")
      problems.push(`content wider than its box: ${name(el)} (${el.scrollWidth} > ${el.clientWidth}px)`);
    const style = getComputedStyle(el);
    if (style.textOverflow === "ellipsis" && el.scrollWidth > el.clientWidth + 1) problems.push(`cut with an ellipsis: ${name(el)}`);
  }

  // A pill or a button is one line: wrapping a badge onto two lines is the "not subscribed" bug.
  for (const el of document.querySelectorAll(".badge, .btn, .tab")) {
    if (!visible(el) || skip(el)) continue;
    const lineHeight = parseFloat(getComputedStyle(el).lineHeight) || 20;
    const rects = el.getClientRects();
    if (rects.length > 1 || el.getBoundingClientRect().height > lineHeight * 1.9 + 12)
      problems.push(`wraps onto two lines: ${name(el)}`);
  }

  // No element sticks out of its card (text beyond its container's box).
  for (const card of document.querySelectorAll(".card")) {
    if (!visible(card) || skip(card)) continue;
    const box = card.getBoundingClientRect();
    for (const el of card.querySelectorAll("*")) {
      if (!visible(el) || skip(el) || inScroller(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.right > box.right + 1 || r.left < box.left - 1)
        problems.push(`sticks out of its card: ${name(el)} (${Math.round(r.left)}..${Math.round(r.right)} outside ${Math.round(box.left)}..${Math.round(box.right)})`);
    }
  }
  return Array.from(new Set(problems)).slice(0, 30);
}
