//go:build !linux

package main

import "os/exec"

// dieWithParent does nothing here: only Linux can tie a child's life to its
// parent's; stop (on a normal exit or an interrupt) still ends the children.
func dieWithParent(*exec.Cmd) {}
