// A form made from inputs as a flow declares them (a flow's `inputs`, a Pause task's `onResume`): one field
// per input by its type (text, number, checkbox, select, file, JSON), its default and whether it is required;
// the modal dialog that holds it; and the request body of the filled form (JSON, or multipart when it holds a
// file). Used by the Flows page's Execute and the Execution page's Resume.
"use strict";

// The dialog `#NAME-dialog` (hidden) with its form `#NAME-form`, fields `#NAME-inputs`, `#NAME-cancel` and the
// status line `#NAME-result`; `submit(form, result)` runs on submit. Escape or Cancel closes it, and the
// focus goes back to `opener`.
function inputsDialog(name, { title, note, action, submit, opener }) {
  const fields = el("div", { id: `${name}-inputs` });
  const cancel = el("button", { type: "button", id: `${name}-cancel`, class: "button ghost" }, "Cancel");
  const result = el("p", { id: `${name}-result`, class: "small", role: "status", "aria-live": "polite" });
  const form = el("form", { id: `${name}-form`, class: "card dialog", role: "dialog", "aria-modal": "true", "aria-labelledby": `${name}-title` },
    el("h2", { id: `${name}-title` }, title),
    note ? el("p", { class: "muted small" }, note) : null,
    fields,
    el("div", { class: "actions" }, el("button", { type: "submit", class: "button" }, action), cancel),
    result,
  );
  const root = el("div", { id: `${name}-dialog`, class: "scrim-dialog", hidden: true }, form);
  document.body.append(root);
  const dialog = {
    root, form, fields, result,
    open(inputs, empty) {
      fields.replaceChildren(...inputs.map(inputField));
      if (!inputs.length && empty) fields.append(el("p", { class: "muted" }, empty));
      result.textContent = "";
      root.hidden = false;
      for (const behind of document.querySelectorAll("main, #topbar")) behind.inert = true; // modal
      (fields.querySelector("input, select, textarea") || form.querySelector("button")).focus();
    },
    close() {
      root.hidden = true;
      for (const behind of document.querySelectorAll("main, #topbar")) behind.inert = false;
      opener().focus();
    },
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, result);
  });
  cancel.addEventListener("click", dialog.close);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || root.hidden) return;
    event.preventDefault(); // handled: what lies behind the dialog leaves this Escape alone
    dialog.close();
  });
  return dialog;
}

function inputField(input) {
  const name = input.id;
  const label = input.displayName || input.id;
  const required = input.required !== false && input.defaults === undefined;
  const value = input.defaults === undefined ? "" : typeof input.defaults === "string" ? input.defaults : JSON.stringify(input.defaults);
  let control;
  const type = input.type || "STRING";
  if (type === "BOOLEAN") {
    control = el("input", { type: "checkbox", name, checked: input.defaults === true });
  } else if (type === "SELECT" || type === "ENUM" || type === "MULTISELECT") {
    const options = input.values || input.options || [];
    control = el(
      "select",
      { name, required, multiple: type === "MULTISELECT" },
      type === "MULTISELECT" ? [] : el("option", { value: "" }, "—"),
      options.map((o) => el("option", { value: o, selected: o === input.defaults }, o)),
    );
  } else if (type === "FILE") {
    control = el("input", { type: "file", name, required });
  } else if (type === "JSON" || type === "YAML" || type === "ARRAY") {
    control = el("textarea", { name, required, rows: 4, spellcheck: "false" });
    control.value = value;
  } else {
    const html = { INT: "number", FLOAT: "number", EMAIL: "email", URI: "url", SECRET: "password" }[type] || "text";
    control = el("input", { type: html, name, required, step: type === "FLOAT" ? "any" : null, value });
  }
  control.dataset.kind = type;
  const hint = input.description ? el("span", { class: "muted small" }, input.description) : null;
  return el("label", { class: "field" }, el("span", {}, `${label} (${type.toLowerCase()})${required ? " *" : ""}`), control, hint);
}

function valueOf(control) {
  const kind = control.dataset.kind;
  if (kind === "BOOLEAN") return control.checked;
  if (control.multiple) return [...control.selectedOptions].map((o) => o.value);
  if (control.value === "") return undefined;
  if (kind === "INT") return Number.parseInt(control.value, 10);
  if (kind === "FLOAT") return Number(control.value);
  if (kind === "JSON" || kind === "ARRAY") {
    try {
      return JSON.parse(control.value);
    } catch {
      return control.value;
    }
  }
  return control.value;
}

// The filled form as a request body: {body, headers} for `request()`.
function inputsBody(form) {
  const controls = [...form.querySelectorAll("[data-kind]")];
  const hasFile = controls.some((c) => c.dataset.kind === "FILE");
  let body;
  let headers = {};
  if (hasFile) {
    body = new FormData();
    for (const c of controls) {
      if (c.dataset.kind === "FILE") {
        if (c.files[0]) body.append(c.name, c.files[0]);
      } else {
        const v = valueOf(c);
        if (v !== undefined) body.append(c.name, typeof v === "string" ? v : JSON.stringify(v));
      }
    }
  } else {
    const values = {};
    for (const c of controls) {
      const v = valueOf(c);
      if (v !== undefined) values[c.name] = v;
    }
    body = JSON.stringify(values);
    headers = { "Content-Type": "application/json" };
  }
  return { body, headers };
}
