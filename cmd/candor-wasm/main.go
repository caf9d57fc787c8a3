//go:build js && wasm

// Command candor-wasm is the browser's half of Candor's sign-in and of its
// access log, built with GOOS=js GOARCH=wasm: the same derivations as the
// phone (package client/login, not a second implementation), so that the
// password never leaves the browser either (P7), and the same checks of
// the access log's proofs (package client/auditproof), so that the privacy
// center shows only entries it verified itself (P10).
//
// It sets globalThis.candorLogin to an object of seven functions, each
// returning a Promise that rejects with an Error carrying a sentence:
//
//	blind(email) → {blinded, state}
//		starts the login handle: blinded (Uint8Array) goes to the server's
//		POST /v1/auth/handle; state (Uint8Array) stays in the page.
//	finish(state, evaluated) → handle (Uint8Array, 64 bytes)
//		unblinds the server's evaluation.
//	deriveKeys(password, salt, {t, m, p}) → {authKey, deviceKey}
//		Argon2id over the password with the account's salt and cost, split
//		with HKDF-SHA256; refuses a cost below login.MinimumCost or beyond
//		what a device can afford, before the password is used.
//
//	checkEntries(key, pageJSON, pinnedAccount?) → {checkpoint: {log, size, hash}, entries: [...], account}
//		verifies a page of GET /v1/account/access-log (its response text)
//		with the audit verifier key (GET /v1/audit/key): the checkpoint's
//		signature, every entry's inclusion proof, and that the entries rise
//		and all name one account pseudonym, pinnedAccount when given (an
//		entry of another account is refused); account is that pseudonym.
//		Each entry is {index, time, actor, action, outcome, category?,
//		count?, grant?, reason?, approvers?, code?, staff, verified: true},
//		staff true for a staff member's access; hash is base64.
//	checkShown(stateJSON, entriesJSON) → {upto, digest} or null
//		checks the entries shown now of one log (all pages of one load)
//		against the state kept from the last load ({upto, digest}; "" or
//		null the first time): every entry shown before up to upto is shown
//		again and no other, as the phone checks. It resolves to the state
//		to keep.
//	checkConsistency(key, oldNote, newCheckpointJSON, proofJSON) → true
//		the old checkpoint note (kept by the page) and the new checkpoint
//		verify with key, are of one log, and the consistency proof (the
//		response text of GET /v1/audit/{log}/consistency?old=…&size=…; ""
//		when the sizes are equal) proves the new extends the old: a
//		rolled-back or forked log is refused.
//	keyFingerprint(key) → string
//		the first 16 hex digits of the SHA-256 of the key's text, as
//		`candor device access-log` prints it.
//
// Go's WebAssembly runs on the page's one thread: deriveKeys holds it for
// the length of the Argon2id (see docs/browser.md for the figures).
//
// Build: GOOS=js GOARCH=wasm go build -trimpath -ldflags=-s -o candor.wasm ./cmd/candor-wasm
// and serve it with the Go distribution's lib/wasm/wasm_exec.js.
package main

import (
	"errors"
	"fmt"
	"syscall/js"

	"github.com/candorcloud/candor/client/login"
)

func main() {
	api := js.Global().Get("Object").New()
	api.Set("blind", js.FuncOf(blind))
	api.Set("finish", js.FuncOf(finish))
	api.Set("deriveKeys", js.FuncOf(deriveKeys))
	api.Set("checkEntries", js.FuncOf(checkEntries))
	api.Set("checkConsistency", js.FuncOf(checkConsistency))
	api.Set("checkShown", js.FuncOf(checkShown))
	api.Set("keyFingerprint", js.FuncOf(keyFingerprint))
	js.Global().Set("candorLogin", api)
	select {}
}

func blind(_ js.Value, args []js.Value) any {
	return promise(func() (any, error) {
		if len(args) != 1 || args[0].Type() != js.TypeString {
			return nil, errors.New("blind(email): the email must be a string")
		}
		b, blinded, err := login.Blind(args[0].String())
		if err != nil {
			return nil, err
		}
		state, err := b.MarshalBinary()
		if err != nil {
			return nil, err
		}
		return map[string]any{"blinded": toJS(blinded), "state": toJS(state)}, nil
	})
}

func finish(_ js.Value, args []js.Value) any {
	return promise(func() (any, error) {
		if len(args) != 2 {
			return nil, errors.New("finish(state, evaluated): two Uint8Arrays are needed")
		}
		state, err := fromJS(args[0], "state")
		if err != nil {
			return nil, err
		}
		evaluated, err := fromJS(args[1], "evaluated")
		if err != nil {
			return nil, err
		}
		var b login.Blinding
		if err := b.UnmarshalBinary(state); err != nil {
			return nil, err
		}
		handle, err := b.Finish(evaluated)
		if err != nil {
			return nil, err
		}
		return toJS(handle), nil
	})
}

func deriveKeys(_ js.Value, args []js.Value) any {
	return promise(func() (any, error) {
		if len(args) != 3 || args[0].Type() != js.TypeString || args[2].Type() != js.TypeObject {
			return nil, errors.New("deriveKeys(password, salt, {t, m, p}): a string, a Uint8Array and an object are needed")
		}
		salt, err := fromJS(args[1], "salt")
		if err != nil {
			return nil, err
		}
		cost, err := costFromJS(args[2])
		if err != nil {
			return nil, err
		}
		if cost.Below(login.MinimumCost) {
			m := login.MinimumCost
			return nil, fmt.Errorf("the password hashing cost (t=%d, m=%d KiB, p=%d) is below this browser's minimum (t=%d, m=%d KiB, p=%d): refusing to derive a key that weak",
				cost.Time, cost.MemoryKiB, cost.Threads, m.Time, m.MemoryKiB, m.Threads)
		}
		if !cost.Affordable() {
			return nil, fmt.Errorf("the password hashing cost (t=%d, m=%d KiB, p=%d) is out of range", cost.Time, cost.MemoryKiB, cost.Threads)
		}
		keys, err := login.DeriveKeys(args[0].String(), salt, cost)
		if err != nil {
			return nil, err
		}
		return map[string]any{"authKey": toJS(keys.AuthKey), "deviceKey": toJS(keys.DeviceKey)}, nil
	})
}

// costFromJS reads {t, m, p}, the JSON form of api.KDF.
func costFromJS(v js.Value) (login.Cost, error) {
	var n [3]int
	for i, k := range []string{"t", "m", "p"} {
		f := v.Get(k)
		if f.Type() != js.TypeNumber || f.Float() != float64(f.Int()) || f.Int() < 0 || (k == "p" && f.Int() > 255) || f.Int() > 1<<32-1 {
			return login.Cost{}, fmt.Errorf("the password hashing cost's %q must be a whole number in range", k)
		}
		n[i] = f.Int()
	}
	return login.Cost{Time: uint32(n[0]), MemoryKiB: uint32(n[1]), Threads: uint8(n[2])}, nil
}

// promise runs f on its own goroutine and settles a new Promise with its
// result; an error, or a panic, rejects it with an Error.
func promise(f func() (any, error)) js.Value {
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			defer func() {
				if r := recover(); r != nil {
					reject.Invoke(js.Global().Get("Error").New(fmt.Sprint("internal error: ", r)))
				}
			}()
			v, err := f()
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	defer executor.Release() // the Promise constructor calls it at once
	return js.Global().Get("Promise").New(executor)
}

func toJS(b []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

func fromJS(v js.Value, name string) ([]byte, error) {
	if !v.InstanceOf(js.Global().Get("Uint8Array")) {
		return nil, fmt.Errorf("the %s must be a Uint8Array", name)
	}
	b := make([]byte, v.Length())
	js.CopyBytesToGo(b, v)
	return b, nil
}
