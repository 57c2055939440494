// eventhub dashboard: small enhancements. Every form also works without this file.
(function () {
  "use strict";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // Destructive actions ask first.
  $$("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  // Copy buttons (the endpoint secret).
  $$("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const text = $(button.dataset.copy).textContent.trim();
      try {
        await navigator.clipboard.writeText(text);
      } catch (err) {
        const range = document.createRange();
        range.selectNodeContents($(button.dataset.copy));
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        document.execCommand("copy");
      }
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
  });

  // Catalog: select all, selected count, client-side filter of the rows on this page.
  $$("[data-select-all]").forEach((all) => {
    const form = all.form;
    const boxes = () => $$(`input[name="${all.dataset.selectAll}"]`, form).filter((b) => !b.closest("tr").hidden);
    const count = $("[data-selected-count]", form);
    const update = () => { if (count) count.textContent = `${$$(`input[name="${all.dataset.selectAll}"]:checked`, form).length} selected`; };
    all.addEventListener("change", () => { boxes().forEach((b) => { b.checked = all.checked; }); update(); });
    form.addEventListener("change", update);
  });
  $$("input[data-filter-target]").forEach((input) => {
    const root = $(input.dataset.filterTarget);
    if (!root) return;
    input.addEventListener("input", () => {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      $$("[data-filter-group]", root).forEach((group) => {
        let visible = 0;
        $$("tr[data-filter-text]", group).forEach((row) => {
          const hit = words.every((w) => row.dataset.filterText.includes(w));
          row.hidden = !hit;
          if (hit) visible += 1;
        });
        group.hidden = visible === 0;
        if (words.length && visible && "open" in group) group.open = true;  // a collapsed group shows what matched
        shown += visible;
      });
      const empty = $("[data-filter-empty]", root);
      if (empty) empty.hidden = shown > 0;
    });
  });

  // Endpoint form: header rows, live preview.
  $$("[data-kv-add]").forEach((button) => {
    button.addEventListener("click", () => {
      const body = $("[data-kv-rows] tbody", button.parentElement);
      const row = body.rows[body.rows.length - 1].cloneNode(true);
      $$("input", row).forEach((i) => { i.value = ""; });
      body.appendChild(row);
      $("input", row).focus();
    });
  });

  const form = $("#endpoint-form");
  if (form && form.dataset.previewUrl && window.fetch) {
    const result = $("[data-preview-result]", form);
    let timer = null;
    let sequence = 0;
    const el = (tag, cls, text) => {
      const node = document.createElement(tag);
      if (cls) node.className = cls;
      if (text !== undefined) node.textContent = text;
      return node;
    };
    const pretty = (body) => { try { return JSON.stringify(JSON.parse(body), null, 2); } catch (e) { return body; } };
    const render = (data) => {
      result.replaceChildren();
      if (!data.ok) {
        result.appendChild(el("p", "error", data.error || "The preview failed."));
        Object.entries(data.errors || {}).forEach(([name, messages]) => {
          messages.forEach((m) => result.appendChild(el("p", "error small", `${name === "__all__" ? "" : name + ": "}${m}`)));
        });
        return;
      }
      result.appendChild(el("p", data.matches ? "badge badge-ok" : "badge badge-warn", data.matches ? "would be delivered" : "would not be delivered"));
      if (data.reasons.length) {
        const list = el("ul", "reasons");
        data.reasons.forEach((r) => list.appendChild(el("li", "", r)));
        result.appendChild(list);
      }
      result.appendChild(el("h3", "", "Body"));
      const body = el("pre", "code", pretty(data.body));
      body.dataset.previewBody = "";
      result.appendChild(body);
      result.appendChild(el("h3", "", "Headers"));
      result.appendChild(el("pre", "code small", Object.entries(data.headers).map(([k, v]) => `${k}: ${v}`).join("\n")));
      if (data.signatureNote) {
        const note = el("p", "muted small", data.signatureNote);
        note.dataset.signatureNote = "";
        result.appendChild(note);
      }
    };
    const refresh = async () => {
      const mine = ++sequence;
      result.setAttribute("aria-busy", "true");
      try {
        const response = await fetch(form.dataset.previewUrl, {
          method: "POST", body: new FormData(form), credentials: "same-origin", headers: { "X-Requested-With": "fetch" },
        });
        const data = await response.json();
        if (mine === sequence) render(data);
      } catch (err) {
        if (mine === sequence) render({ ok: false, error: "The preview could not be loaded." });
      } finally {
        result.removeAttribute("aria-busy");
      }
    };
    const schedule = () => { clearTimeout(timer); timer = setTimeout(refresh, 350); };
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    const button = $("[data-preview-button]", form);
    if (button) button.addEventListener("click", (event) => { event.preventDefault(); refresh(); });
    refresh();
  }
})();
