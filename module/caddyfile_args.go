package edgeauth

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// The helpers in this file are the one way the Caddyfile parsers read the
// value of an option. Each is called with the dispenser on the option's
// keyword; what names the option with its block for the error ("session
// lifetime", "store redis db"), and usage, where asked for, is the line to
// write instead ("`cookie_name <name>`"). Every error names the option, says
// what is wrong and how the line should read, and carries the Caddyfile line
// (d.Errf).

// oneArg reads exactly one value of the option; noun names the value
// ("value", "name", "level"). A block may follow (`provider corp { … }`):
// oneArg leaves it to the caller.
func oneArg(d *caddyfile.Dispenser, what, noun, usage string) (string, error) {
	if !d.NextArg() {
		return "", d.Errf("%s: a %s is required; write %s", what, noun, usage)
	}
	v := d.Val()
	if extra := d.RemainingArgs(); len(extra) > 0 {
		return "", d.Errf("%s: takes exactly one %s, not %d; write %s", what, noun, 1+len(extra), usage)
	}
	return v, nil
}

// optionalArg reads the option's value if it has one (at most one); ok
// reports whether it had.
func optionalArg(d *caddyfile.Dispenser, what, noun, usage string) (v string, ok bool, err error) {
	args := d.RemainingArgs()
	switch len(args) {
	case 0:
		return "", false, nil
	case 1:
		return args[0], true, nil
	default:
		return "", false, d.Errf("%s: takes at most one %s, not %d; write %s", what, noun, len(args), usage)
	}
}

// noValue checks that an option that opens a block has no value on its
// line (`session { … }`).
func noValue(d *caddyfile.Dispenser, what, usage string) error {
	if args := d.RemainingArgs(); len(args) > 0 {
		return d.Errf("%s: takes no value, found %q; write %s", what, args[0], usage)
	}
	return nil
}

// flagOption checks an option that is on by being there (`allow_missing_nonce`):
// no value, no block.
func flagOption(d *caddyfile.Dispenser, what string) error {
	kw := d.Val()
	if args := d.RemainingArgs(); len(args) > 0 {
		return d.Errf("%s: takes no value, found %q; write `%s` alone", what, args[0], kw)
	}
	return noBlock(d, what)
}

// oneString reads an option whose line is `<keyword> <value>`.
func oneString(d *caddyfile.Dispenser, what string) (string, error) {
	return oneLeaf(d, what, "value", "`"+d.Val()+" <value>`")
}

// oneLeaf is oneArg for an option that takes no block.
func oneLeaf(d *caddyfile.Dispenser, what, noun, usage string) (string, error) {
	v, err := oneArg(d, what, noun, usage)
	if err != nil {
		return "", err
	}
	return v, noBlock(d, what)
}

// oneDuration reads an option whose line is `<keyword> <duration>` into dst.
func oneDuration(d *caddyfile.Dispenser, what string, dst *caddy.Duration) error {
	usage := "`" + d.Val() + " <duration>`, e.g. `" + d.Val() + " 30s` (units ms, s, m, h, d)"
	v, err := oneLeaf(d, what, "duration", usage)
	if err != nil {
		return err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil {
		return d.Errf("%s: %q is not a duration; write %s", what, v, usage)
	}
	*dst = caddy.Duration(dur)
	return nil
}

// oneInt reads an option whose line is `<keyword> <n>`, a whole number of
// at least minimum.
func oneInt(d *caddyfile.Dispenser, what string, minimum int) (int, error) {
	usage := "`" + d.Val() + " <n>` with a whole number n ≥ " + strconv.Itoa(minimum)
	v, err := oneLeaf(d, what, "number", usage)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < minimum {
		return 0, d.Errf("%s: %q is not a whole number ≥ %d; write %s", what, v, minimum, usage)
	}
	return n, nil
}

// noBlock refuses a block after an option that takes none; its contents
// would otherwise be read as options of the enclosing block.
func noBlock(d *caddyfile.Dispenser, what string) error {
	if d.NextBlock(d.Nesting()) {
		return d.Errf("%s: takes no block; remove the { … } after it", what)
	}
	return nil
}
