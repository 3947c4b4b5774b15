// Where the live views go: stdout on a terminal, redrawn in place; or a stand-in in tests.

export interface Screen {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
  /** Put in front of every line (the demo indents the view under its narration). */
  indent?: string;
}

/** `text` with the screen's indent in front of every line that has something. */
export function indent(screen: Screen, text: string): string {
  return screen.indent ? text.replace(/^(?=.)/gm, screen.indent) : text;
}

/** A terminal's view redrawn in place: the cursor goes back up over the last frame, which is cleared. */
export class InPlace {
  private lines = 0;
  private last = "";

  constructor(private readonly screen: Screen) {}

  draw(frame: string): void {
    // A terminal of unknown size (0 columns, as under script(1)) is not cut to fit.
    const columns = this.screen.columns || Number.POSITIVE_INFINITY;
    const width = Math.max(20, columns - 1 - (this.screen.indent?.length ?? 0));
    // A line wider than the terminal would wrap, and the count of lines to go back over would be wrong.
    const lines = frame
      .replace(/\n$/, "")
      .split("\n")
      .map((line) => (line.length > width ? `${line.slice(0, width - 1)}…` : line));
    const text = lines.join("\n");
    if (text === this.last) return;
    this.last = text;
    const back = this.lines > 0 ? `\x1b[${this.lines}F\x1b[J` : "";
    this.screen.write(`${back}${indent(this.screen, text)}\n`);
    this.lines = lines.length;
  }
}
