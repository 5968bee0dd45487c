package keys

// SealContext exposes the seal context of a signing key to the external tests.
var SealContext = sealContext
