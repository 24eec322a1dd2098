package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/loadgen/loadgen/internal/token"
)

// tokenKeyEnv is the documented way to hand loadgen a token key.
const tokenKeyEnv = "LOADGEN_TOKEN_KEY"

func tokensCommand() command {
	return command{
		summary: "mint token credentials for a token-based anonymous call",
		usage: "loadgen tokens --realm R --account A [--caller C] --callee D [--key K] [--timestamp MS] [--iv IV]\n\n" +
			"The key comes from --key or, preferably, the " + tokenKeyEnv + " environment variable:\n" +
			"a 16-character key mints AES-128-ECB tokens, a 32-character key AES-256-CBC + HMAC-SHA256 ones.\n" +
			"Prints {\"realm\",\"accountToken\",\"fromToken\",\"toToken\",\"caller\",\"callee\"} on stdout.\n\n" +
			"Example:\n  LOADGEN_TOKEN_KEY=0123456789abcdef loadgen tokens --realm realm-test \\\n" +
			"    --account caller@example.com --callee sip:callee@example.com",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			realm := fs.String("realm", "", "token realm (sent as ?tokenrealm=)")
			account := fs.String("account", "", "caller's account, e.g. caller@example.com (accountToken)")
			caller := fs.String("caller", "", "caller URI inside fromToken (default sip:<account>)")
			callee := fs.String("callee", "", "callee URI inside toToken, e.g. sip:callee@example.com")
			key := fs.String("key", "", "token key, 16 or 32 characters (default $"+tokenKeyEnv+")")
			ts := fs.String("timestamp", "", "token timestamp in ms since the epoch (default now)")
			iv := fs.String("iv", "", "16-character [A-Za-z0-9] IV for 32-character keys (default random)")
			return func(_ context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usageErrorf("unexpected arguments: %s", strings.Join(args, " "))
				}
				if *realm == "" || *account == "" || *callee == "" {
					return usageErrorf("--realm, --account and --callee are required")
				}
				k := *key
				if k == "" {
					k = e.getenv(tokenKeyEnv)
				}
				if k == "" {
					return usageErrorf("no token key: set %s (or pass --key)", tokenKeyEnv)
				}
				if err := token.CheckKey(k); err != nil {
					return usageError(err)
				}
				at := time.Now()
				if *ts != "" {
					ms, err := strconv.ParseInt(*ts, 10, 64)
					if err != nil || ms < 0 {
						return usageErrorf("--timestamp %q: want milliseconds since the epoch", *ts)
					}
					at = time.UnixMilli(ms)
				}
				ivs := *iv
				if ivs == "" && len(k) == token.KeyLenCBC {
					var err error
					if ivs, err = token.RandomIV(); err != nil {
						return fmt.Errorf("generate iv: %w", err)
					}
				}
				set, err := token.MintSet(k, *realm, *account, *callee, at, ivs)
				if err != nil {
					return usageError(err)
				}
				if *caller != "" {
					c := *caller
					if !strings.HasPrefix(c, "sip:") {
						c = "sip:" + c
					}
					if set.FromToken, err = token.Mint(k, c, at, ivs); err != nil {
						return usageError(err)
					}
					set.Caller = c
				}
				enc := json.NewEncoder(e.stdout)
				return enc.Encode(set)
			}
		},
	}
}
