// Stripe's Payment Element for a booking taken through Stripe (docs/web-client.md#paying-with-stripe):
// POST /v1/bookings answers `payment: {provider: "stripe", clientSecret, publishableKey}`; Stripe.js
// is loaded from Stripe (a script tag, never bundled), the Payment Element is mounted for the
// client secret, and `stripe.confirmPayment` authorizes the card. The saga takes it from there (the
// signed webhook wakes it; it captures once the seats are confirmed). Tests stand a recording
// `Stripe()` in for Stripe.js: Stripe.js itself is never loaded in tests.

export const STRIPE_JS = "https://js.stripe.com/v3/";

/** Whether this booking is paid in Stripe's Payment Element (else the sandbox cards stay). */
export const paysWithStripe = (payment) => payment?.provider === "stripe" && !!payment.publishableKey && !!payment.clientSecret;

let loading = null;

/** `window.Stripe`, loading Stripe.js once (a script tag from js.stripe.com, as Stripe requires). */
export function loadStripeJs() {
  if (typeof globalThis.Stripe === "function") return Promise.resolve(globalThis.Stripe);
  loading ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = STRIPE_JS;
    script.onload = () => (typeof globalThis.Stripe === "function" ? resolve(globalThis.Stripe) : reject(new Error("Stripe.js did not start")));
    script.onerror = () => {
      loading = null;
      script.remove();
      reject(new Error("Stripe.js could not be loaded"));
    };
    document.head.append(script);
  });
  return loading;
}

/**
 * Mounts the Payment Element for `payment.clientSecret` into `node`; resolves to `pay()`, which
 * confirms the payment without leaving the page unless the card's bank insists on a redirect.
 * `pay()` throws Stripe's error (a decline, an incomplete form) with its message for the buyer.
 */
export async function mountPaymentElement(payment, node) {
  const Stripe = await loadStripeJs();
  const stripe = Stripe(payment.publishableKey);
  const elements = stripe.elements({ clientSecret: payment.clientSecret });
  elements.create("payment").mount(node);
  return async () => {
    const { error, paymentIntent } = await stripe.confirmPayment({ elements, redirect: "if_required" });
    if (error) throw Object.assign(new Error(error.message ?? "The payment did not go through"), { code: error.code ?? error.type });
    return paymentIntent;
  };
}
