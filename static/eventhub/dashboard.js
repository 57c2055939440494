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
    // Nothing to preview before the form says where and what: no "url: This field is required" on a fresh form.
    const ready = () => $("#id_url", form).value.trim() !== "" && $("#id_preview_type", form).value.trim() !== "";
    const schedule = () => { clearTimeout(timer); if (ready()) timer = setTimeout(refresh, 350); };
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    const button = $("[data-preview-button]", form);
    if (button) button.addEventListener("click", (event) => { event.preventDefault(); refresh(); });
    if (ready()) refresh();
  }

  // Endpoint form: eventFilter and customPayload checked as you type by the server's own validators.
  if (form && form.dataset.checkUrl && window.fetch) {
    const csrf = $("input[name=csrfmiddlewaretoken]", form).value;
    const ask = async (fields) => {
      const body = new FormData();
      body.append("csrfmiddlewaretoken", csrf);
      Object.entries(fields).forEach(([k, v]) => body.append(k, v));
      const response = await fetch(form.dataset.checkUrl, { method: "POST", body, credentials: "same-origin" });
      return response.json();
    };
    $$("[data-check-field]", form).forEach((area) => {
      const box = $(`[data-problems-for="${area.dataset.checkField}"]`, form);
      let timer = null, sequence = 0;
      const check = async () => {
        const mine = ++sequence;
        const data = await ask({ field: area.dataset.checkField, text: area.value });
        if (mine !== sequence) return;
        box.replaceChildren();
        (data.problems || []).forEach((p) => {
          const line = document.createElement("p");
          line.className = "error";
          line.dataset.problem = p.path;
          if (p.path) { const at = document.createElement("code"); at.textContent = p.path; line.append("At ", at, ": "); }
          line.append(p.message);
          box.appendChild(line);
        });
        area.closest(".field").classList.toggle("has-error", (data.problems || []).length > 0);
        if (!(data.problems || []).length) $$(`[data-error-for="${area.name}"]`, form).forEach((e) => e.remove());
      };
      area.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 300); });
    });

    // Examples for the chosen type (the preview's event type, else the first one picked).
    const examples = $("[data-examples]", form);
    const typeInput = $("#id_preview_type", form);
    const showExamples = async () => {
      const key = typeInput.value.trim();
      if (!key) { examples.hidden = true; return; }
      const data = await ask({ event_type: key });
      if (!data.examples) { examples.hidden = true; return; }
      examples.replaceChildren();
      const head = document.createElement("h3");
      head.textContent = `Examples for ${data.examples.type}`;
      examples.appendChild(head);
      [["event_filter", "eventFilter"], ["custom_payload", "customPayload"]].forEach(([name, label]) => {
        const row = document.createElement("div");
        row.className = "example";
        const code = document.createElement("pre");
        code.className = "code small";
        code.textContent = JSON.stringify(data.examples[name], null, 2);
        const use = document.createElement("button");
        use.type = "button";
        use.className = "btn btn-small";
        use.textContent = `Use as ${label}`;
        use.dataset.useExample = name;
        use.addEventListener("click", () => {
          const area = $(`[data-check-field="${name}"]`, form);
          area.value = code.textContent;
          area.dispatchEvent(new Event("input", { bubbles: true }));
        });
        row.append(code, use);
        examples.appendChild(row);
      });
      examples.hidden = false;
    };
    typeInput.addEventListener("change", showExamples);
    showExamples();
  }

  // Endpoint form: a searchable event-type picker over the multi-select (which stays the source of truth and the
  // no-JavaScript fallback): sections by source and group, each with its wildcard, a type covered by a pattern shown so.
  $$("select[data-type-picker]").forEach((select) => {
    const patterns = $("[data-patterns]", select.form);
    const picker = document.createElement("div");
    picker.className = "type-picker";
    const search = document.createElement("input");
    search.type = "search";
    search.placeholder = "Search event types…";
    search.setAttribute("aria-label", "Search event types");
    const count = document.createElement("span");
    count.className = "muted small";
    const list = document.createElement("div");
    list.className = "type-picker-list";
    list.dataset.scrolls = "";
    const toRegex = (p) => new RegExp("^" + p.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$");
    const currentPatterns = () => (patterns ? patterns.value.split(/\n/).map((l) => l.trim()).filter(Boolean) : []);
    const rows = [];
    Array.from(select.querySelectorAll("optgroup")).forEach((group) => {
      const section = document.createElement("section");
      const head = document.createElement("div");
      head.className = "type-picker-head";
      const title = document.createElement("strong");
      title.textContent = group.label;
      head.appendChild(title);
      const keys = Array.from(group.children).map((o) => o.value);
      const prefix = keys.reduce((a, k) => { while (!k.startsWith(a)) a = a.slice(0, -1); return a; }, keys[0] || "");
      const cut = prefix.lastIndexOf(".");
      if (keys.length > 1 && cut > 0) {
        const wildcard = prefix.slice(0, cut + 1) + "*";
        const add = document.createElement("button");
        add.type = "button";
        add.className = "btn btn-small btn-ghost mono";
        add.textContent = `+ ${wildcard}`;
        add.title = `Add the pattern ${wildcard}: every ${group.label} type, also ones added later`;
        add.dataset.wildcard = wildcard;
        add.addEventListener("click", () => {
          if (!currentPatterns().includes(wildcard)) patterns.value = currentPatterns().concat([wildcard]).join("\n");
          patterns.dispatchEvent(new Event("input", { bubbles: true }));
        });
        if (patterns) head.appendChild(add);
      }
      section.appendChild(head);
      Array.from(group.children).forEach((option) => {
        const label = document.createElement("label");
        label.className = "check type-picker-item";
        const box = document.createElement("input");
        box.type = "checkbox";
        box.value = option.value;
        box.checked = option.selected;
        box.addEventListener("change", () => { option.selected = box.checked; select.dispatchEvent(new Event("change", { bubbles: true })); update(); });
        const text = document.createElement("span");
        text.className = "mono";
        text.textContent = option.value;
        const via = document.createElement("span");
        via.className = "badge badge-muted";
        via.hidden = true;
        label.append(box, text, via);
        section.appendChild(label);
        rows.push({ option, box, label, via, section });
      });
      list.appendChild(section);
    });
    const update = () => {
      const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      const pats = currentPatterns().map((p) => [p, toRegex(p)]);
      let picked = 0;
      rows.forEach((row) => {
        const key = row.option.value;
        const hay = (key + " " + row.option.parentElement.label).toLowerCase();
        row.label.hidden = !words.every((w) => hay.includes(w));
        const hit = pats.find(([, re]) => re.test(key));
        row.via.hidden = !hit;
        row.via.textContent = hit ? `via ${hit[0]}` : "";
        if (row.box.checked || hit) picked += 1;
      });
      Array.from(list.children).forEach((section) => { section.hidden = Array.from(section.querySelectorAll("label")).every((l) => l.hidden); });
      count.textContent = `${picked} type${picked === 1 ? "" : "s"} selected`;
    };
    search.addEventListener("input", update);
    if (patterns) patterns.addEventListener("input", update);
    const bar = document.createElement("div");
    bar.className = "type-picker-bar";
    bar.append(search, count);
    picker.append(bar, list);
    select.hidden = true;
    select.after(picker);
    update();
  });
})();
