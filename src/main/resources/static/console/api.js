// HTTP calls to kvlab: the API key (sessionStorage) as a bearer token, problem+json as errors, and
// server-sent events read from a fetch body (EventSource can neither POST nor send headers).

const KEY = 'kvlab.apiKey';

export function apiKey() {
  return sessionStorage.getItem(KEY);
}

export function setApiKey(key) {
  sessionStorage.setItem(KEY, key);
}

/** A non-2xx answer: its status and the problem's detail. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

function headers(extra) {
  const h = { ...extra };
  const key = apiKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

export async function request(path, { method = 'GET', body, accept = 'application/json' } = {}) {
  const init = { method, headers: headers({ Accept: accept }) };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let detail;
    try {
      const problem = await response.json();
      detail = problem.detail || problem.error?.message;
    } catch (ignored) {
      detail = response.statusText;
    }
    throw new ApiError(response.status, detail);
  }
  return response;
}

export async function getJson(path) {
  return (await request(path)).json();
}

export async function postJson(path, body) {
  return (await request(path, { method: 'POST', body })).json();
}

/**
 * Reads server-sent events from {@code path} and calls onEvent(name, data) with data parsed as JSON,
 * one event at a time (an async onEvent is awaited); resolves when the stream ends.
 */
export async function events(path, { method = 'GET', body, signal } = {}, onEvent) {
  const init = { method, headers: headers({ Accept: 'text/event-stream' }), signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail || detail;
    } catch (ignored) {
      // the status says enough
    }
    throw new ApiError(response.status, detail);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      await dispatch(block, onEvent);
    }
  }
  if (buffer.trim()) await dispatch(buffer, onEvent);
}

async function dispatch(block, onEvent) {
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') name = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return;
  const text = data.join('\n');
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch (ignored) {
    // not JSON: passed on as text
  }
  await onEvent(name, parsed);
}

/** Opens a data URL (report, CSV) with the key: a plain link cannot send a header. */
export async function openWithKey(path) {
  const response = await request(path, { accept: '*/*' });
  const url = URL.createObjectURL(await response.blob());
  window.open(url, '_blank');
}
