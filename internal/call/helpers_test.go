package call

import (
	"fmt"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
