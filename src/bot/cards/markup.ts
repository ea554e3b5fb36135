/**
 * Text for Teams: TextBlocks are rendered as markdown with HTML, so text is escaped to show as
 * written, and mentions are the one piece of markup the bot writes on purpose.
 */

/**
 * Text for a TextBlock that Teams renders as markdown with HTML: `<` and `>` as entities, so a
 * placeholder like `<object id>` or markup in a display name shows as typed instead of vanishing.
 */
export function escapeMarkup(text: string): string {
  return text.replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
