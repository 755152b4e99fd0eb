// The texts the scripts show, read from the page's <template id="filon-messages">, which the
// server renders in the page's language. Placeholders look like {name}.

let catalogue = null;

function load() {
  if (catalogue) return catalogue;
  catalogue = new Map();
  const template = document.getElementById('filon-messages');
  if (template) {
    for (const node of template.content.querySelectorAll('[data-msg]')) {
      catalogue.set(node.dataset.msg, node.textContent.trim());
    }
  }
  return catalogue;
}

/** The text for `key` with its placeholders filled in; the key itself if the page lacks it. */
export function t(key, params = {}) {
  const text = load().get(key) ?? load().get('internal') ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}
