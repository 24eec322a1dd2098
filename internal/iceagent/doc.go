// Package iceagent is one call's ICE agent, driven synchronously: it never
// blocks, never starts a goroutine and never touches a socket. Its owner (a
// per-core media transport that carries many calls on one shared UDP socket)
// hands it incoming STUN packets and the current time; it returns the packets
// to send and the next instant it wants to be polled.
//
// It has one local candidate (the shared socket's address, a host candidate)
// and the remote candidates of the remote SDP. It implements this subset of
// RFC 8445 and RFC 7675:
//
//   - §5.1.2 candidate priorities (PRIORITY of a peer-reflexive candidate,
//     type preference 110) and §6.1.2.3 pair priorities; one checklist,
//     ordered by pair priority.
//   - §6.1.4.2 / §7.2 ordinary checks paced by Ta, with RFC 5389 §7.2.1
//     retransmissions (RTO doubling up to a cap, a bounded number of
//     transmissions), MESSAGE-INTEGRITY (short-term) and FINGERPRINT.
//   - §7.2.5.1 a 487 Role Conflict response switches the role
//     (controlling ↔ controlled) and retries the check; §7.3.1.1 role
//     conflicts in incoming requests are resolved by tiebreaker.
//   - §7.3 answering Binding requests (XOR-MAPPED-ADDRESS of the source) in
//     both roles, §7.3.1.3 learning peer-reflexive remote candidates (also
//     before the remote description is known) and §7.3.1.4 triggered checks.
//     A request whose MESSAGE-INTEGRITY fails (or is missing) gets 401
//     Unauthorized; one whose USERNAME is not ours is dropped silently (on a
//     shared socket it belongs to no call of this agent).
//   - §8.1.1 regular nomination by the controlling agent (one more check
//     with USE-CANDIDATE on the first pair that succeeds, as Chrome does)
//     and §7.3.1.5 accepting a nomination in the controlled role.
//   - RFC 7675 §5.1 consent freshness: a check on the selected pair every
//     0.8–1.2 × the consent interval; consent is lost (state Failed,
//     ErrConsentLost) when no response arrived for the consent timeout.
//
// Left out: more than one local candidate, component 2 (RTCP without mux),
// TCP candidates, mDNS (.local) hostnames (skipped, not resolved),
// foundations and the Frozen state (every pair starts Waiting),
// aggressive nomination and renomination, local peer-reflexive candidates
// learnt from XOR-MAPPED-ADDRESS, ICE lite, ICE restarts, trickle (SetRemote
// replaces the remote description) and keepalives other than consent checks.
// Consent checks are not retransmitted: each interval sends one new request
// and a response to any outstanding one refreshes consent.
package iceagent
