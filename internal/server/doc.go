// Package server is the composition root: it opens the store, loads the
// master key, builds the domain services, mounts every HTTP surface with its
// middleware, and runs the server until its context ends.
//
// It is the only package besides testkit that imports store, and the only one
// that knows every other package; deps_test.go checks the dependency rules
// of DESIGN.md for the whole module.
package server
