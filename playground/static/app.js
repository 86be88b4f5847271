// The playground page: a Slack-like window drawn from the stand-in's model.
// Every change in the stand-in arrives as a server-sent event; the page then re-reads the workspace
// as the current user sees it and redraws. Typing, clicks and form submits go to /playground/*,
// which sends them to the bot as signed Slack requests.

import { readInputValues, renderBlocks, renderText, showInputErrors } from "./blocks.js";
import { renderMrkdwn } from "./mrkdwn.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const ui = {
  viewer: params.get("as") || "U0ALICE",
  channel: params.get("channel") || "C0GENERAL",
  thread: null, // {channel, ts} of the open thread's parent
  snapshot: null,
  modalKey: null,
  seen: null, // channel id -> top-level messages already seen
};
const GROUP_WINDOW_S = 300;
const REQUIRED = "Please complete this required field.";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function post(path, body) {
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) return { ok: false, error: data.error || `HTTP ${response.status}` };
    return data;
  } catch (error) {
    return { ok: false, error: `The playground server did not answer (${error.message}).` };
  }
}

// -- reading the workspace ---------------------------------------------------------------------------

let refreshing = null;
let again = false;

function refresh() {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      again = false;
      const viewer = ui.viewer;
      const response = await fetch(`/playground/state?user=${encodeURIComponent(viewer)}`).catch(() => null);
      if (response?.ok && viewer === ui.viewer) {
        ui.snapshot = await response.json();
        render();
      }
    } while (again);
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

function listen() {
  const events = new EventSource("/playground/events");
  const status = $("connection");
  events.addEventListener("open", () => {
    status.textContent = "live";
    status.className = "connection live";
    refresh();
  });
  events.addEventListener("error", () => {
    status.textContent = "reconnecting…";
    status.className = "connection down";
  });
  events.addEventListener("change", (event) => {
    const change = JSON.parse(event.data);
    if (change.kind === "call") logCall(change);
    else refresh();
  });
}

function logCall(call) {
  const log = $("api-log");
  const item = el("li", call.error ? "failed" : "", call.method);
  item.title = call.error ? `${call.status} ${call.error}` : `${call.status} ok`;
  if (call.error) item.append(el("span", "api-error", ` ${call.error}`));
  log.prepend(item);
  while (log.children.length > 10) log.lastChild.remove();
}

// -- drawing -----------------------------------------------------------------------------------------

const channelById = (id) => ui.snapshot?.channels.find((c) => c.id === id);
const userOf = (id) => ui.snapshot?.users[id] || { name: id, handle: id, is_bot: false };
const posted = (messages) => messages.filter((m) => !m.ephemeral).length;

function render() {
  const snap = ui.snapshot;
  if (!channelById(ui.channel)) ui.channel = snap.channels[0]?.id;
  if (ui.seen === null) ui.seen = Object.fromEntries(snap.channels.map((c) => [c.id, posted(c.messages)]));
  $("team-name").textContent = snap.team.name;
  $("transport").textContent = snap.transport === "socket" ? "· Socket Mode" : "· HTTP /slack/events";
  renderUsers(snap);
  renderChannelList(snap);
  renderChannel();
  renderThread();
  renderModal(snap);
}

function renderUsers(snap) {
  const select = $("user-switcher");
  if (select.options.length !== snap.responders.length) {
    select.replaceChildren(...snap.responders.map((id) => {
      const option = el("option", "", userOf(id).name);
      option.value = id;
      return option;
    }));
  }
  select.value = ui.viewer;
}

function renderChannelList(snap) {
  const list = $("channel-list");
  list.replaceChildren(...snap.channels.map((channel) => {
    const item = el("li");
    const button = el("button", "channel-link");
    button.type = "button";
    const active = channel.id === ui.channel;
    if (active) ui.seen[channel.id] = posted(channel.messages);
    const unread = posted(channel.messages) - (ui.seen[channel.id] ?? 0);
    button.classList.toggle("active", active);
    button.classList.toggle("unread", unread > 0);
    if (active) button.setAttribute("aria-current", "page");
    button.append(el("span", "hash", "#"), el("span", "channel-name", channel.name));
    if (unread > 0) button.append(el("span", "badge", String(unread)));
    button.addEventListener("click", () => switchChannel(channel.id));
    item.append(button);
    return item;
  }));
}

function switchChannel(id) {
  ui.channel = id;
  updateUrl();
  render();
  $("composer-input").focus();
}

function updateUrl() {
  const query = new URLSearchParams({ as: ui.viewer, channel: ui.channel });
  history.replaceState(null, "", `?${query}`);
}

function renderChannel() {
  const channel = channelById(ui.channel);
  $("channel-title").textContent = `# ${channel.name}${channel.archived ? " (archived)" : ""}`;
  $("channel-title").title = channel.topic || "";
  $("composer-input").placeholder = `Message #${channel.name}`;
  const list = $("messages");
  const stick = list.dataset.channel !== channel.id || list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const nodes = [channelIntro(channel)];
  let previous = null;
  for (const message of channel.messages) {
    nodes.push(messageNode(message, channel.id, { continued: continues(previous, message) }));
    previous = message;
  }
  const top = list.scrollTop;
  list.replaceChildren(...nodes);
  list.dataset.channel = channel.id;
  list.scrollTop = stick ? list.scrollHeight : top;
}

function channelIntro(channel) {
  const intro = el("div", "channel-intro");
  intro.append(el("h2", "", `# ${channel.name}`));
  if (channel.topic) intro.append(el("p", "channel-topic", `Topic: ${channel.topic}`));
  const text = el("p", "", `This is the very beginning of #${channel.name}. Everything the bot shows here `
    + "reaches this page through a local stand-in for Slack. Type ");
  text.append(el("code", "mrkdwn-code", "/incident help"), " below to see what it can do.");
  intro.append(text);
  return intro;
}

// Consecutive plain messages from one author are drawn as one group, as Slack does; cards stand alone.
function continues(previous, message) {
  return Boolean(previous && !previous.ephemeral && !message.ephemeral && previous.user === message.user
    && !previous.replies.length && !previous.blocks?.length && !message.blocks?.length
    && Number(message.ts) - Number(previous.ts) < GROUP_WINDOW_S);
}

function clockOf(ts) {
  return new Date(Number(ts) * 1000).toLocaleTimeString("en-US", { hour: "numeric", minute: "2-digit" });
}

// Icons are drawn here rather than taken from an emoji font, which a bare machine may not have.
const ICONS = {
  siren: ["M7 17v-5a5 5 0 0 1 10 0v5z", "M5 18h14v3H5z", "M12 2v2M4.2 5.2l1.4 1.4M19.8 5.2l-1.4 1.4"],
  eye: ["M1 12s4-7 11-7 11 7 11 7-4 7-11 7S1 12 1 12z", "M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6z"],
  reply: ["M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.9A8 8 0 1 1 21 12z"],
};

function icon(name, filled = false) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  for (const d of ICONS[name]) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", filled && !d.includes("M12 2") ? "currentColor" : "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "2");
    path.setAttribute("stroke-linecap", "round");
    path.setAttribute("stroke-linejoin", "round");
    svg.append(path);
  }
  return svg;
}

function avatar(userId, user) {
  const node = el("div", "avatar", user.is_bot ? undefined : (user.name || "?").slice(0, 1).toUpperCase());
  if (user.is_bot) node.append(icon("siren", true));
  node.classList.add(user.is_bot ? "avatar-bot" : `avatar-${[...userId].reduce((a, c) => a + c.charCodeAt(0), 0) % 5}`);
  node.setAttribute("aria-hidden", "true");
  return node;
}

function messageNode(message, channelId, { continued = false, inThread = false } = {}) {
  const user = userOf(message.user);
  const node = el("article", "message");
  node.dataset.ts = message.ts;
  node.classList.toggle("ephemeral", message.ephemeral);
  node.classList.toggle("continued", continued);
  node.classList.toggle("pinned", Boolean(message.pinned));
  if (message.pinned) {
    const note = el("div", "pinned-note");
    note.append(el("span", "", "📌 Pinned by Incident Tracker"));
    node.append(note);
  }
  if (message.ephemeral) {
    const note = el("div", "ephemeral-note");
    note.append(icon("eye"), el("span", "", "Only visible to you"));
    node.append(note);
  }
  const gutter = el("div", "gutter");
  if (continued) gutter.append(el("time", "hover-time", clockOf(message.ts)));
  else gutter.append(avatar(message.user, user));
  const body = el("div", "message-body");
  if (!continued) {
    const meta = el("div", "message-meta");
    meta.append(el("span", "author", user.name));
    if (user.is_bot) meta.append(el("span", "app-badge", "APP"));
    const time = el("time", "message-time", clockOf(message.ts));
    time.title = new Date(Number(message.ts) * 1000).toString();
    meta.append(time);
    body.append(meta);
  }
  const ctx = contextFor(channelId, message);
  const content = message.blocks?.length ? renderBlocks(message.blocks, ctx) : el("div", "message-text");
  if (!message.blocks?.length) content.append(renderMrkdwn(message.text, ctx));
  content.classList.add("message-content");
  body.append(content);
  if (message.edited) body.append(el("span", "edited", "(edited)"));
  if (!inThread && message.replies.length) body.append(threadSummary(message, channelId));
  const row = el("div", "message-row");
  row.append(gutter, body);
  if (!inThread && !message.ephemeral) row.append(messageActions(message, channelId));
  node.append(row);
  return node;
}

function threadSummary(message, channelId) {
  const count = message.replies.filter((reply) => !reply.ephemeral).length || message.replies.length;
  const button = el("button", "thread-summary");
  button.type = "button";
  const last = message.replies[message.replies.length - 1];
  button.append(el("span", "reply-count", `${count} ${count === 1 ? "reply" : "replies"}`));
  button.append(el("span", "last-reply", `Last reply ${clockOf(last.ts)}`));
  button.addEventListener("click", () => openThread(channelId, message.ts));
  return button;
}

function messageActions(message, channelId) {
  const bar = el("div", "message-actions");
  const reply = el("button", "icon-button");
  reply.append(icon("reply"));
  reply.type = "button";
  reply.title = "Reply in thread";
  reply.setAttribute("aria-label", "Reply in thread");
  reply.addEventListener("click", () => openThread(channelId, message.ts));
  bar.append(reply);
  return bar;
}

function contextFor(channelId, message) {
  return {
    userName: (id) => ui.snapshot.users[id]?.name,
    channelName: (id) => channelById(id)?.name,
    confirm: showConfirm,
    onAction: (action, button) => click(channelId, message, action, button),
  };
}

async function click(channelId, message, action, button) {
  button.disabled = true;
  button.classList.add("busy");
  const result = await post("/playground/click", {
    ...action,
    user: ui.viewer,
    channel: channelId,
    message_ts: message.ts,
    ephemeral: Boolean(message.ephemeral),
  });
  button.disabled = false;
  button.classList.remove("busy");
  if (!result.ok) showComposerError(result.error);
}

// -- the test alert: the playground server posts an Alertmanager webhook to the bot ----------------------

async function sendTestAlert(status, button) {
  const box = $("alert-result");
  button.disabled = true;
  const result = await post(`/playground/alerts/${status}`, {});
  button.disabled = false;
  box.textContent = result.ok ? result.message : result.error;
  box.classList.toggle("failed", !result.ok);
  if (result.ok && status === "firing" && result.channel !== ui.channel && channelById(result.channel)) {
    switchChannel(result.channel); // where the card appears
  }
}

// -- threads -----------------------------------------------------------------------------------------

function openThread(channel, ts) {
  ui.thread = { channel, ts };
  renderThread();
  $("thread-input").focus();
}

function renderThread() {
  const pane = $("thread");
  const parent = ui.thread && channelById(ui.thread.channel)?.messages.find((m) => m.ts === ui.thread.ts);
  if (!parent) {
    ui.thread = null;
    pane.hidden = true;
    return;
  }
  pane.hidden = false;
  $("thread-channel").textContent = `# ${channelById(ui.thread.channel).name}`;
  const list = $("thread-messages");
  const nodes = [messageNode(parent, ui.thread.channel, { inThread: true })];
  const count = parent.replies.filter((reply) => !reply.ephemeral).length;
  const divider = el("div", "thread-divider");
  divider.append(el("span", "", `${count} ${count === 1 ? "reply" : "replies"}`));
  nodes.push(divider);
  let previous = null;
  for (const reply of parent.replies) {
    nodes.push(messageNode(reply, ui.thread.channel, { inThread: true, continued: continues(previous, reply) }));
    previous = reply;
  }
  list.replaceChildren(...nodes);
  list.scrollTop = list.scrollHeight;
}

// -- modals and confirm dialogs -----------------------------------------------------------------------

function renderModal(snap) {
  const top = snap.views[snap.views.length - 1];
  const key = top ? `${top.id}:${top.hash}` : null;
  if (key === ui.modalKey) return;
  ui.modalKey = key;
  const root = $("modal-root");
  root.replaceChildren();
  if (!top) return;
  const view = top.view;
  const backdrop = el("div", "backdrop");
  const dialog = el("div", "modal");
  dialog.setAttribute("role", "dialog");
  dialog.setAttribute("aria-modal", "true");
  dialog.setAttribute("aria-labelledby", "modal-title");
  const header = el("header", "modal-header");
  const title = el("h2", "", view.title?.text || "");
  title.id = "modal-title";
  const close = el("button", "icon-button", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Close");
  header.append(title, close);
  const body = renderBlocks(view.blocks, { userName: (id) => snap.users[id]?.name, confirm: showConfirm });
  body.classList.add("modal-body");
  const footer = el("footer", "modal-footer");
  const problem = el("span", "modal-problem");
  problem.setAttribute("role", "alert");
  const cancel = el("button", "bk-button", view.close?.text || "Cancel");
  cancel.type = "button";
  footer.append(problem, cancel);
  const form = el("form", "modal-form");
  form.append(header, body, footer);
  if (view.submit) {
    const submit = el("button", "bk-button bk-primary", view.submit.text);
    submit.type = "submit";
    footer.append(submit);
  }
  const dismiss = () => post(`/playground/views/${encodeURIComponent(top.id)}/close`, { user: ui.viewer });
  close.addEventListener("click", dismiss);
  cancel.addEventListener("click", dismiss);
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "Escape") dismiss();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitView(top.id, body, footer, problem);
  });
  dialog.append(form);
  backdrop.append(dialog);
  root.append(backdrop);
  body.querySelector("input, textarea, select")?.focus();
}

async function submitView(viewId, body, footer, problem) {
  const { values, missing } = readInputValues(body);
  showInputErrors(body, Object.fromEntries(missing.map((id) => [id, REQUIRED])));
  problem.textContent = "";
  if (missing.length) return; // Slack asks for required fields itself, without the app
  for (const button of footer.querySelectorAll("button")) button.disabled = true;
  const result = await post(`/playground/views/${encodeURIComponent(viewId)}/submit`, { user: ui.viewer, values });
  for (const button of footer.querySelectorAll("button")) button.disabled = false;
  if (result.errors) showInputErrors(body, result.errors);
  else if (!result.ok) problem.textContent = result.error || "The app could not take this form.";
}

function showConfirm(dialog) {
  return new Promise((resolve) => {
    const root = $("confirm-root");
    const backdrop = el("div", "backdrop");
    const box = el("div", "modal confirm");
    box.setAttribute("role", "alertdialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-labelledby", "confirm-title");
    const title = el("h2", "", dialog.title?.text || "Are you sure?");
    title.id = "confirm-title";
    const text = renderText(dialog.text, { userName: (id) => ui.snapshot.users[id]?.name }, "confirm-text");
    const buttons = el("div", "modal-footer");
    const deny = el("button", "bk-button", dialog.deny?.text || "Cancel");
    const confirm = el("button", `bk-button ${dialog.style === "danger" ? "bk-danger" : "bk-primary"}`,
      dialog.confirm?.text || "Yes");
    deny.type = confirm.type = "button";
    buttons.append(deny, confirm);
    box.append(el("header", "modal-header"), text, buttons);
    box.firstChild.append(title);
    const finish = (answer) => {
      root.replaceChildren();
      resolve(answer);
    };
    deny.addEventListener("click", () => finish(false));
    confirm.addEventListener("click", () => finish(true));
    box.addEventListener("keydown", (event) => {
      if (event.key === "Escape") finish(false);
    });
    backdrop.append(box);
    root.replaceChildren(backdrop);
    deny.focus();
  });
}

// -- composing ---------------------------------------------------------------------------------------

function showComposerError(message) {
  const box = $("composer-error");
  box.textContent = message || "";
  box.hidden = !message;
}

function wireComposer(form, input, threadTs) {
  const send = async () => {
    const text = input.value.trim();
    if (!text) return;
    showComposerError("");
    input.disabled = true;
    const channel = threadTs() ? ui.thread.channel : ui.channel;
    const result = await post("/playground/command", { user: ui.viewer, channel, text, thread_ts: threadTs() });
    input.disabled = false;
    input.focus();
    if (result.ok) {
      input.value = "";
      input.style.height = "";
    } else {
      showComposerError(result.error);
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  input.addEventListener("input", () => {
    input.style.height = "";
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  });
}

function start() {
  wireComposer($("composer"), $("composer-input"), () => null);
  wireComposer($("thread-composer"), $("thread-input"), () => ui.thread?.ts ?? null);
  for (const chip of document.querySelectorAll(".suggestion")) {
    chip.addEventListener("click", () => {
      const input = $("composer-input");
      input.value = chip.textContent;
      input.focus();
    });
  }
  $("alert-fire").addEventListener("click", (event) => sendTestAlert("firing", event.currentTarget));
  $("alert-resolve").addEventListener("click", (event) => sendTestAlert("resolved", event.currentTarget));
  $("thread-close").addEventListener("click", () => {
    ui.thread = null;
    renderThread();
  });
  $("user-switcher").addEventListener("change", (event) => {
    ui.viewer = event.target.value;
    ui.modalKey = null;
    updateUrl();
    refresh();
  });
  updateUrl();
  listen();
}

start();
