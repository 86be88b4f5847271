// Slack's mrkdwn, rendered SAFELY: every piece of message text becomes a DOM text node (textContent),
// never HTML. Supports *bold*, _italic_, ~strike~, `code`, ```pre```, > quotes, <url|links>,
// <@U…> mentions, <#C…> channels, <!here>-style broadcasts, <!date^…> tokens (in the viewer's local
// time) and a few :emoji: codes.

const EMOJI = {
  warning: "⚠️", white_check_mark: "✅", x: "❌", fire: "🔥", rotating_light: "🚨", eyes: "👀",
  tada: "🎉", information_source: "ℹ️", hourglass: "⌛", pushpin: "📌", memo: "📝", bell: "🔔",
  heavy_check_mark: "✔️", red_circle: "🔴", large_green_circle: "🟢", large_yellow_circle: "🟡",
  construction: "🚧", sos: "🆘", mag: "🔍", ok_hand: "👌", thumbsup: "👍", "+1": "👍",
};
const PLACEHOLDER_BASE = 0xe000;
const PRIVATE_USE = /[\ue000-\uf8ff]/g;
const TOKENS = /`([^`\n]+)`|<([^<>\n]+)>/g;
const STYLES = [
  { tag: "strong", re: /(^|[\s(\[{"'.,;:!?\-\ue000-\uf8ff])\*(?=\S)([^*\n]*?[^\s*])\*(?=$|[\s)\]}"'.,;:!?\-\ue000-\uf8ff])/u },
  { tag: "em", re: /(^|[\s(\[{"'.,;:!?\-\ue000-\uf8ff])_(?=\S)([^_\n]*?[^\s_])_(?=$|[\s)\]}"'.,;:!?\-\ue000-\uf8ff])/u },
  { tag: "s", re: /(^|[\s(\[{"'.,;:!?\-\ue000-\uf8ff])~(?=\S)([^~\n]*?[^\s~])~(?=$|[\s)\]}"'.,;:!?\-\ue000-\uf8ff])/u },
];
const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:"]);
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
  "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

export function decodeEntities(text) {
  return text.replace(/&(amp|lt|gt);/g, (_, name) => ({ amp: "&", lt: "<", gt: ">" })[name]);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Render mrkdwn `text` into a DocumentFragment. `ctx.userName(id)` and `ctx.channelName(id)` resolve names. */
export function renderMrkdwn(text, ctx = {}) {
  const frag = document.createDocumentFragment();
  const source = String(text ?? "").replace(PRIVATE_USE, "\ufffd"); // placeholders are ours alone
  const parts = source.split("```");
  parts.forEach((part, i) => {
    if (i % 2 === 1 && i < parts.length - 1) {
      frag.append(el("pre", "mrkdwn-pre", decodeEntities(part.replace(/^\n/, ""))));
    } else {
      renderLines(i % 2 === 1 ? "```" + part : part, ctx, frag);
    }
  });
  return frag;
}

function renderLines(text, ctx, parent) {
  const lines = text.split("\n");
  let quote = null;
  lines.forEach((line, i) => {
    if (line.startsWith(">")) {
      if (!quote) {
        quote = el("blockquote", "mrkdwn-quote");
        parent.append(quote);
      } else {
        quote.append(el("br"));
      }
      renderInline(line.slice(1).replace(/^ /, ""), ctx, quote);
      return;
    }
    quote = null;
    if (i > 0 && !(lines[i - 1].startsWith(">"))) parent.append(el("br"));
    renderInline(line, ctx, parent);
  });
}

function renderInline(line, ctx, parent) {
  const tokens = [];
  const masked = line.replace(TOKENS, (_, code, control) => {
    tokens.push(code !== undefined ? { code } : { control });
    return String.fromCharCode(PLACEHOLDER_BASE + tokens.length - 1);
  });
  renderStyled(masked, tokens, ctx, parent);
}

function renderStyled(text, tokens, ctx, parent) {
  let rest = text;
  while (rest) {
    let best = null;
    for (const style of STYLES) {
      const match = style.re.exec(rest);
      if (match && (best === null || match.index < best.match.index)) best = { style, match };
    }
    if (!best) break;
    const { style, match } = best;
    const start = match.index + match[1].length;
    renderPlain(rest.slice(0, start), tokens, ctx, parent);
    const node = el(style.tag);
    renderStyled(match[2] ?? "", tokens, ctx, node);
    parent.append(node);
    rest = rest.slice(match.index + match[0].length);
  }
  renderPlain(rest, tokens, ctx, parent);
}

function renderPlain(text, tokens, ctx, parent) {
  let buffer = "";
  const flush = () => {
    if (buffer) parent.append(...emojify(decodeEntities(buffer)));
    buffer = "";
  };
  for (const char of text) {
    const code = char.codePointAt(0) - PLACEHOLDER_BASE;
    if (code >= 0 && code < tokens.length) {
      flush();
      const token = tokens[code];
      parent.append(token.code !== undefined ? el("code", "mrkdwn-code", decodeEntities(token.code))
        : renderControl(token.control, ctx));
    } else {
      buffer += char;
    }
  }
  flush();
}

function emojify(text) {
  const out = [];
  let last = 0;
  for (const match of text.matchAll(/:([a-z0-9_+\-]+):/g)) {
    const emoji = EMOJI[match[1]];
    if (!emoji) continue;
    out.push(document.createTextNode(text.slice(last, match.index)));
    const span = el("span", "emoji", emoji);
    span.title = match[0];
    out.push(span);
    last = match.index + match[0].length;
  }
  out.push(document.createTextNode(text.slice(last)));
  return out;
}

function renderControl(control, ctx) {
  const bar = control.indexOf("|");
  const target = bar === -1 ? control : control.slice(0, bar);
  const label = bar === -1 ? "" : decodeEntities(control.slice(bar + 1));
  if (target.startsWith("@")) {
    const id = target.slice(1);
    return el("span", "mention", "@" + (ctx.userName?.(id) || label || id));
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    return el("span", "mention channel-mention", "#" + (ctx.channelName?.(id) || label || id));
  }
  if (target.startsWith("!date^")) return renderDate(target, label);
  if (target.startsWith("!subteam^")) return el("span", "mention", label || "@group");
  if (target.startsWith("!")) {
    const name = target.slice(1);
    return el("span", "mention broadcast", ["here", "channel", "everyone"].includes(name) ? "@" + name : label || name);
  }
  return renderLink(decodeEntities(target), label);
}

function renderLink(url, label) {
  let parsed = null;
  try {
    parsed = new URL(url);
  } catch {
    parsed = null;
  }
  if (!parsed || !SAFE_SCHEMES.has(parsed.protocol)) return document.createTextNode(label || url);
  const a = el("a", "mrkdwn-link", label || url);
  a.href = parsed.href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

// -- dates ------------------------------------------------------------------------------------------

function renderDate(target, fallback) {
  const [, tsText, format = "", link] = target.split("^");
  const ts = Number(tsText);
  if (!/^-?\d{1,12}$/.test(tsText ?? "") || !Number.isFinite(ts)) return document.createTextNode(fallback);
  const when = new Date(ts * 1000);
  const span = el("time", "date-token", formatDate(when, decodeEntities(format), new Date()));
  span.dateTime = when.toISOString();
  span.title = when.toString();
  if (link) return renderLinkAround(span, decodeEntities(link));
  return span;
}

function renderLinkAround(node, url) {
  const link = renderLink(url, "");
  if (link.nodeType !== Node.ELEMENT_NODE) return node;
  link.textContent = "";
  link.append(node);
  return link;
}

function ordinal(n) {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" })[n % 10] || "th";
  return `${n}${suffix}`;
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

function pretty(when, now, plain) {
  const day = 86400000;
  if (sameDay(when, now)) return "today";
  if (sameDay(when, new Date(now.getTime() - day))) return "yesterday";
  if (sameDay(when, new Date(now.getTime() + day))) return "tomorrow";
  return plain;
}

function clock(when, seconds) {
  let hours = when.getHours();
  const suffix = hours < 12 ? "AM" : "PM";
  hours = hours % 12 || 12;
  const pad = (n) => String(n).padStart(2, "0");
  return `${hours}:${pad(when.getMinutes())}${seconds ? ":" + pad(when.getSeconds()) : ""} ${suffix}`;
}

function ago(when, now) {
  const seconds = Math.round((now - when) / 1000);
  const future = seconds < 0;
  const abs = Math.abs(seconds);
  const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
  for (const [name, size] of units) {
    if (abs >= size) {
      const n = Math.floor(abs / size);
      const text = `${n} ${name}${n === 1 ? "" : "s"}`;
      return future ? `in ${text}` : `${text} ago`;
    }
  }
  return "just now";
}

/** Slack's date-token format, e.g. "{date_short_pretty} at {time}", in the browser's local time zone. */
export function formatDate(when, format, now = new Date()) {
  const y = when.getFullYear();
  const m = when.getMonth();
  const d = when.getDate();
  const dateNum = `${y}-${String(m + 1).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
  const date = `${MONTHS[m]} ${ordinal(d)}, ${y}`;
  const dateShort = `${MONTHS[m].slice(0, 3)} ${d}, ${y}`;
  const dateLong = `${DAYS[when.getDay()]}, ${date}`;
  const values = {
    date_num: dateNum,
    date,
    date_short: dateShort,
    date_long: dateLong,
    date_pretty: pretty(when, now, date),
    date_short_pretty: pretty(when, now, dateShort),
    date_long_pretty: pretty(when, now, dateLong),
    time: clock(when, false),
    time_secs: clock(when, true),
    ago: ago(when, now),
  };
  return format.replace(/\{([a-z_]+)\}/g, (token, name) => values[name] ?? token);
}
