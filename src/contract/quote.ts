/**
 * How messages show what a user wrote. Values come from anyone who may edit a Deployment, so a message
 * quotes each at most once and cuts it short: a denial, an Event or a log line stays small whatever
 * was sent.
 */

const VALUE_SHOWN_MAX = 200;
const ITEM_SHOWN_MAX = 60;

/** The text cut to `max` characters (whole code points), with its full length said when cut. */
export function shorten(text: string, max = VALUE_SHOWN_MAX): string {
  if (text.length <= max) return text;
  const kept = Array.from(text.slice(0, max + 1))
    .slice(0, max)
    .join("");
  return `${kept}… (${text.length} characters)`;
}

/**
 * The opening of a problem about one item of a list (`has "x", which `), or nothing when the item is
 * the whole value: the message quotes the value already, and says it once.
 */
export function itemPrefix(item: string, whole: string): string {
  return item === whole.trim() ? "" : `has "${shorten(item, ITEM_SHOWN_MAX)}", which `;
}

/** One item of a list as a problem names it, cut short. */
export function itemShown(item: string): string {
  return shorten(item, ITEM_SHOWN_MAX);
}
