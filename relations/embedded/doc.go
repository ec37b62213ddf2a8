// Package embedded runs SpiceDB's own engine inside the Trellis process, on
// a datastore the caller builds and closes, and hands back an in-memory gRPC
// connection to it: the same SpiceDB v1 API a remote cluster serves, with no
// port opened and no outside host called unless the caller asks for a TCP
// listener.
package embedded
