// The parameters of each experiment kind and their defaults, as the server's kinds read them
// (src/main/java/dev/kvlab/experiment/*Kind.java; the server caps lengths at kvlab.experiments.max-length).
// Types: int, number, ints, numbers (comma-separated lists), strings (from options), choice, text;
// optional fields are sent only when filled in.

export const KINDS = {
  'memory-growth': [
    { name: 'max_new_tokens', type: 'int', value: 512 },
    { name: 'every', type: 'int', value: 32, help: 'a sample every N generated tokens' },
    { name: 'prompt_tokens', type: 'int', value: 16 },
  ],
  'oom-sweep': [
    { name: 'start_length', type: 'int', value: 256 },
    { name: 'max_length', type: 'int', value: 8192 },
    { name: 'decode_tokens', type: 'int', value: 8 },
    { name: 'memory_limit_bytes', type: 'int', optional: true, help: 'else kvlab.memory.limit, else physical memory' },
  ],
  perplexity: [
    { name: 'budgets', type: 'ints', optional: true, help: 'each bounded policy at each budget' },
    { name: 'tokens', type: 'int', value: 2048 },
    { name: 'text', type: 'text', optional: true, help: 'else the built-in held-out text' },
  ],
  passkey: [
    { name: 'budgets', type: 'ints', optional: true, help: 'each bounded policy at each budget' },
    { name: 'context_lengths', type: 'ints', value: [256, 512, 1024] },
    { name: 'depths', type: 'numbers', value: [0, 0.5, 1] },
    { name: 'trials', type: 'int', value: 3 },
    { name: 'seed', type: 'int', value: 0 },
  ],
  throughput: [
    { name: 'context_lengths', type: 'ints', value: [512, 1024, 2048] },
    { name: 'decode_tokens', type: 'int', value: 32 },
    { name: 'concurrency', type: 'ints', value: [1] },
  ],
  'compression-sweep': [
    { name: 'ratios', type: 'numbers', value: [0.1, 0.25, 0.5, 0.75, 0.9], help: 'share of the cache removed' },
    { name: 'tasks', type: 'strings', value: ['passkey', 'perplexity'], options: ['passkey', 'perplexity'] },
    { name: 'context_lengths', type: 'ints', value: [512, 1000] },
    { name: 'depths', type: 'numbers', value: [0.1, 0.5, 0.9] },
    { name: 'trials', type: 'int', value: 3 },
    { name: 'seed', type: 'int', value: 0 },
    { name: 'filler', type: 'choice', value: 'held-out', options: ['held-out', 'repeated', 'text'] },
    { name: 'filler_text', type: 'text', optional: true, help: 'only with filler "text"' },
    { name: 'tokens', type: 'int', value: 1024, help: 'perplexity tokens' },
    { name: 'text', type: 'text', optional: true, help: 'perplexity text, else the held-out text' },
  ],
};

function shown(field) {
  if (field.value === undefined) return '';
  return Array.isArray(field.value) ? field.value.join(', ') : String(field.value);
}

/** The form's inputs for one kind, named after the fields, holding the defaults. */
export function fieldInputs(kind, el) {
  return KINDS[kind].map(field => {
    let input;
    if (field.type === 'choice') {
      input = el('select', {}, field.options.map(o => el('option', { value: o, text: o })));
      input.value = field.value;
    } else if (field.type === 'text') {
      input = el('textarea', { rows: '2' });
    } else {
      input = el('input', { value: shown(field), inputmode: 'decimal' });
    }
    input.name = field.name;
    input.dataset.type = field.type;
    const hint = [field.optional ? 'optional' : `default ${shown(field)}`, field.help].filter(Boolean).join('; ');
    return el('label', {}, `${field.name} `, el('span', { class: 'muted', text: `(${hint})` }), input);
  });
}

function parseNumber(name, text, integer) {
  const n = Number(text);
  if (text === '' || Number.isNaN(n) || (integer && !Number.isInteger(n))) {
    throw new Error(`${name}: ${JSON.stringify(text)} is not ${integer ? 'an integer' : 'a number'}`);
  }
  return n;
}

/** The body's kind-specific fields read from the form; throws a message naming a bad field. */
export function readFields(kind, form) {
  const body = {};
  for (const field of KINDS[kind]) {
    const raw = form.elements[field.name].value.trim();
    if (raw === '') {
      if (!field.optional) throw new Error(`${field.name}: required`);
      continue;
    }
    const items = () => raw.split(',').map(s => s.trim()).filter(s => s !== '');
    switch (field.type) {
      case 'int': body[field.name] = parseNumber(field.name, raw, true); break;
      case 'number': body[field.name] = parseNumber(field.name, raw, false); break;
      case 'ints': body[field.name] = items().map(s => parseNumber(field.name, s, true)); break;
      case 'numbers': body[field.name] = items().map(s => parseNumber(field.name, s, false)); break;
      case 'strings': body[field.name] = items(); break;
      default: body[field.name] = raw;
    }
  }
  return body;
}
