//go:build unix

package netio

import "golang.org/x/sys/unix"

// msgTrunc is the recvmsg flag saying the datagram did not fit.
const msgTrunc = unix.MSG_TRUNC
