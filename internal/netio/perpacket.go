//go:build !(linux && (amd64 || arm64))

package netio

import "errors"

// haveBatch: this platform reads and writes one datagram at a time.
const haveBatch = false

// batch is the batched path's state, which this platform never creates.
type batch struct{}

func newBatch() *batch { return nil }

// errNoBatch is never returned: a Conn here has no batch state, so
// ReadBatch and WriteBatch never take the batched path.
var errNoBatch = errors.New("netio: no batched I/O on this platform")

func (c *Conn) readBatch([]Message) (int, error)  { return 0, errNoBatch }
func (c *Conn) writeBatch([]Message) (int, error) { return 0, errNoBatch }
