// Block Kit, drawn the way Slack draws it, from DOM nodes only: no message text ever becomes HTML.
// Blocks: header, section (text, fields, accessory), context, divider, actions (buttons with
// primary/danger styles and confirm dialogs), image (as a placeholder: nothing loads from the
// internet), input (plain_text_input, static_select) for modals. Anything else is named, not guessed.

import { renderMrkdwn } from "./mrkdwn.js";

let autoId = 0;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A text object: plain_text as text, mrkdwn through the mrkdwn renderer (unless verbatim says otherwise). */
export function renderText(object, ctx = {}, className = "") {
  const node = el("span", className);
  if (!object) return node;
  if (object.type === "mrkdwn") node.append(renderMrkdwn(object.text, ctx));
  else node.textContent = object.text ?? "";
  return node;
}

/**
 * Render `blocks` into a new element. `ctx`:
 *   userName(id), channelName(id) — names for mentions;
 *   onAction({action_id, block_id, value, type}, button) — a button was clicked (after any confirm);
 *   confirm(dialog) — returns a Promise<boolean> for buttons with a `confirm` object.
 */
export function renderBlocks(blocks, ctx = {}) {
  const root = el("div", "blocks");
  for (const block of blocks || []) {
    const render = RENDERERS[block?.type] || renderUnsupported;
    const node = render(block, ctx);
    node.classList.add("block");
    const blockId = block?.block_id || (block?.type === "input" ? `auto-${++autoId}` : "");
    if (blockId) node.dataset.blockId = blockId;
    root.append(node);
  }
  return root;
}

function renderHeader(block, ctx) {
  const node = el("div", "bk-header");
  node.setAttribute("role", "heading");
  node.setAttribute("aria-level", "3");
  node.append(renderText({ ...block.text, type: "plain_text" }, ctx));
  return node;
}

function renderSection(block, ctx) {
  const node = el("div", "bk-section");
  const main = el("div", "bk-section-main");
  if (block.text) main.append(renderText(block.text, ctx, "bk-section-text"));
  if (block.fields?.length) {
    const grid = el("div", "bk-fields");
    for (const field of block.fields) grid.append(renderText(field, ctx, "bk-field"));
    main.append(grid);
  }
  node.append(main);
  if (block.accessory) {
    const accessory = el("div", "bk-accessory");
    accessory.append(renderElement(block.accessory, block, ctx));
    node.append(accessory);
  }
  return node;
}

function renderContext(block, ctx) {
  const node = el("div", "bk-context");
  for (const element of block.elements || []) {
    node.append(element.type === "image" ? renderImagePlaceholder(element, "bk-context-image")
      : renderText(element, ctx, "bk-context-item"));
  }
  return node;
}

function renderDivider() {
  return el("hr", "bk-divider");
}

function renderActions(block, ctx) {
  const node = el("div", "bk-actions");
  for (const element of block.elements || []) node.append(renderElement(element, block, ctx));
  return node;
}

function renderImage(block, ctx) {
  const node = el("figure", "bk-image");
  if (block.title) node.append(renderText(block.title, ctx, "bk-image-title"));
  node.append(renderImagePlaceholder(block, "bk-image-box"));
  return node;
}

function renderImagePlaceholder(element, className) {
  // The playground loads nothing from the internet: an image is shown by its alt text.
  const box = el("span", className, `Image: ${element.alt_text || "no description"}`);
  box.title = element.image_url || "";
  return box;
}

function renderUnsupported(block) {
  return el("div", "bk-unsupported", `[${block?.type ?? "unknown"} block: not drawn by the playground]`);
}

function renderElement(element, block, ctx) {
  if (element.type === "button") return renderButton(element, block, ctx);
  if (element.type === "image") return renderImagePlaceholder(element, "bk-accessory-image");
  if (element.type === "static_select") return renderSelect(element, block, { disabled: true });
  return el("span", "bk-unsupported", `[${element.type} element]`);
}

function renderButton(element, block, ctx) {
  const button = el("button", "bk-button");
  button.type = "button";
  if (element.style === "primary" || element.style === "danger") button.classList.add(`bk-${element.style}`);
  button.append(renderText(element.text, ctx));
  if (element.action_id) button.dataset.actionId = element.action_id;
  if (element.url) button.title = element.url;
  button.addEventListener("click", async () => {
    if (element.confirm && !(await (ctx.confirm?.(element.confirm) ?? Promise.resolve(true)))) return;
    ctx.onAction?.(
      { type: "button", action_id: element.action_id, block_id: block.block_id, value: element.value ?? "" },
      button,
    );
  });
  return button;
}

// -- modal inputs -----------------------------------------------------------------------------------

function renderInput(block, ctx) {
  const node = el("div", "bk-input");
  const id = `bk-input-${++autoId}`;
  const label = el("label", "bk-input-label");
  label.htmlFor = id;
  label.append(renderText(block.label, ctx));
  if (block.optional) label.append(el("span", "bk-optional", " (optional)"));
  node.append(label);
  const element = block.element || {};
  let control;
  if (element.type === "plain_text_input") control = renderTextInput(element);
  else if (element.type === "static_select") control = renderSelect(element, block, {});
  else control = el("span", "bk-unsupported", `[${element.type} input]`);
  control.id = id;
  control.dataset.actionId = element.action_id || "";
  control.dataset.elementType = element.type || "";
  node.append(control);
  if (block.hint) node.append(renderText(block.hint, ctx, "bk-hint"));
  const error = el("div", "bk-input-error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  node.append(error);
  node.dataset.optional = block.optional ? "true" : "false";
  return node;
}

function renderTextInput(element) {
  const input = element.multiline ? el("textarea", "bk-text-input bk-multiline") : el("input", "bk-text-input");
  if (!element.multiline) input.type = "text";
  if (element.placeholder?.text) input.placeholder = element.placeholder.text;
  if (element.initial_value) input.value = element.initial_value;
  if (element.max_length) input.maxLength = element.max_length;
  return input;
}

function renderSelect(element, block, { disabled }) {
  const select = el("select", "bk-select");
  select.disabled = Boolean(disabled);
  const placeholder = el("option", "", element.placeholder?.text || "Select an item");
  placeholder.value = "";
  select.append(placeholder);
  (element.options || []).forEach((option, index) => {
    const node = el("option", "", option.text?.text ?? option.value);
    node.value = String(index);
    if (element.initial_option && element.initial_option.value === option.value) node.selected = true;
    select.append(node);
  });
  select.bkOptions = element.options || [];
  return select;
}

/**
 * Read a modal's inputs as Slack's `view.state.values`: {block_id: {action_id: {...}}}.
 * Returns {values, missing}, where `missing` lists block ids of required inputs left empty
 * (Slack refuses to submit those without asking the app).
 */
export function readInputValues(root) {
  const values = {};
  const missing = [];
  for (const node of root.querySelectorAll(".bk-input")) {
    const blockId = node.closest(".block")?.dataset.blockId;
    const control = node.querySelector("[data-element-type]");
    if (!blockId || !control) continue;
    const type = control.dataset.elementType;
    let state;
    let empty;
    if (type === "plain_text_input") {
      empty = control.value === "";
      state = { type, value: empty ? null : control.value };
    } else if (type === "static_select") {
      const option = control.value === "" ? null : control.bkOptions[Number(control.value)];
      empty = option === null;
      state = { type, selected_option: option };
    } else {
      continue;
    }
    values[blockId] = { [control.dataset.actionId]: state };
    if (empty && node.dataset.optional !== "true") missing.push(blockId);
  }
  return { values, missing };
}

/** Show `errors` ({block_id: message}) under their inputs; clears the others. */
export function showInputErrors(root, errors) {
  for (const node of root.querySelectorAll(".bk-input")) {
    const blockId = node.closest(".block")?.dataset.blockId;
    const message = errors[blockId];
    const box = node.querySelector(".bk-input-error");
    box.textContent = message || "";
    box.hidden = !message;
    node.classList.toggle("bk-input-invalid", Boolean(message));
  }
}

const RENDERERS = {
  header: renderHeader,
  section: renderSection,
  context: renderContext,
  divider: renderDivider,
  actions: renderActions,
  image: renderImage,
  input: renderInput,
};
