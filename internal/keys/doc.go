// Package keys owns Tessera's key material: the master key that seals secrets
// at rest and the purpose-bound subkeys derived from it.
//
// Flow: the server loads the master key once (a file under the data directory,
// or TESSERA_MASTER_KEY), and hands a *MasterKey to the services that must seal
// secrets or compute keyed digests (API tokens, client secrets). Later issues
// add signing keys with rollover here.
//
// It must not read files or the environment itself, nor log key material.
package keys
