// Package web serves the pages people use in a browser: the privacy center
// at / (an account owner's view of their data, consents, devices and access
// log), the staff console at /staff, and their files under /assets/.
//
// Everything is embedded in the server: plain JavaScript modules, one style
// sheet, the three languages' strings (assets/i18n) and, from package
// internal/web/wasm, the WebAssembly build of the sign-in derivations. No
// page loads anything from another host, and the Content-Security-Policy
// sent with every answer forbids it: no inline script or style, no frames,
// no form posted elsewhere.
//
// The pages hold no secret and are the same for everyone, so they are served
// sealed or not; the API answers sealed and the pages say so.
package web
