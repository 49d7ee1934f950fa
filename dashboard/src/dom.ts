/** Small DOM helpers. Text goes in through `textContent` only: names come from tenants. */

type Child = Node | string | null | undefined | false;

/** Creates `<tag>` with attributes (`class`, `data-*`, …) and children. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

/** The element with this id; throws when the page lacks it (a broken build, not a user error). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`dashboard page has no #${id}`);
  return element as T;
}

/** Shows `message` in `element` (or hides it when null). */
export function showMessage(element: HTMLElement, message: string | null): void {
  element.textContent = message ?? '';
  element.hidden = message === null;
}

/** Replays the "changed" highlight on `element`, even when it is already running. */
export function flash(element: Element): void {
  element.classList.remove('changed');
  // Reading layout restarts the CSS animation on the next add.
  void (element as HTMLElement).offsetWidth;
  element.classList.add('changed');
}
