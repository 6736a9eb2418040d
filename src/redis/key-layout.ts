/**
 * Where each key of a split request went: fragment g (< groups) holds the keys at client
 * positions order[start[g]] ... order[start[g + 1] - 1], in the client's order. Filled by
 * KeyGrouper.group(); a layout is reused from request to request (its arrays only grow), so
 * only the entries named here are meaningful.
 */
export class KeyLayout {
  groups = 0;
  readonly order: number[] = [];
  readonly start: number[] = [0];
}
