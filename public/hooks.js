// Extension points for feature modules (public/queue.js, products.js, tickets.js, …): a module
// imports `hooks`, pushes its functions, and is imported once by app.js. Each list runs in order.
export const hooks = {
  /** Links in the header for signed-in users: { label, path }. */
  nav: [],
  /**
   * Before a hold is sent: `async (ctx, frame) => frame`. ctx = { event, state }. May add fields
   * (an admission token, ticket types, a voucher) or throw an Error to stop the hold with its message.
   */
  holdFrame: [],
  /** After a hold was refused: `(ctx, err) => void`, err carrying the API's `code` (e.g. to join a new queue). */
  holdRefused: [],
  /** Controls in the order panel above the hold button (ticket types, a voucher): `(state, el) => Node | null`. */
  orderControls: [],
  /** Extra panels on the event page: `(ctx, container) => cleanup?`, rendered once under the map. */
  eventPanels: [],
  /** Extra details under a booking in "My bookings": `(booking, container) => void`. */
  bookingDetails: [],
};
