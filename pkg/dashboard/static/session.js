// What the dashboard knows about the person using it, filled in at start.
export const session = { user: null };
