package password

import (
	"context"
	"encoding/base64"
	"errors"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"

	"golang.org/x/crypto/argon2"

	"github.com/tessera-iam/tessera/internal/errkind"
)

// testParams are the cheapest valid parameters, to keep the suite fast.
var testParams = Params{Memory: 8 * 1024, Time: 1, Threads: 1}

const testPrefix = "$argon2id$v=19$m=8192,t=1,p=1$"

// Vectors for every import format, each produced by a tool independent of
// this package (and of passwap, except where noted):
//
//   - bcrypt: libxcrypt through Python 3.11's crypt module, e.g.
//     python3 -c 'import crypt; print(crypt.crypt("correct horse bcrypt", "$2b$06$Ro0CUfOqk6cXEKf3dyaM7O"))'
//   - argon2i/argon2id m=256: the reference implementation's test vectors
//     (phc-winner-argon2 src/test.c, hashtest(version, 2, 8, 2, "password", "somesalt", ...)).
//   - argon2i m=4096: passwap's internal/testvalues, made with the reference
//     argon2 CLI: echo -n password | argon2 randomsaltishard -i -t 3 -m 12 -p 1 -l 32 -e
//   - pbkdf2: python3 hashlib.pbkdf2_hmac(alg, pw, salt, rounds), encoded in
//     passlib's form by hand: '$'+ident+'$'+rounds+'$'+ab64(salt)+'$'+ab64(dk),
//     ab64 = base64.b64encode(b).decode().rstrip('=').replace('+', '.');
//     the "std" vector uses plain padded base64.b64encode instead.
//   - sha-crypt without rounds: openssl passwd -5 -salt QxPu1nNJ7wW3kz2h 'correct horse 5'
//     and openssl passwd -6 -salt k9Wq2LmZ.aB/cD3e 'correct horse 6' (OpenSSL 3.0.19).
//   - sha-crypt with rounds: libxcrypt through python3 crypt.crypt(pw, "$5$rounds=20000$r0undsSaltXYZ").
//   - SSHA: python3 '{SSHA}' + base64.b64encode(hashlib.sha1(pw + salt).digest() + salt)
//     (sha256 / sha512 for {SSHA256} / {SSHA512}).
var vectors = []struct {
	name    string
	format  Format
	encoded string
	plain   string
}{
	{"bcrypt 2b", FormatBcrypt, "$2b$06$Ro0CUfOqk6cXEKf3dyaM7Of0PhCmLNSDc81qPuDhtVP2G84J2bajO", "correct horse bcrypt"},
	{"bcrypt 2y", FormatBcrypt, "$2y$05$uNbNQF8pK5eQ8nW6bPr3dewxAB0aj0tifcXmLdhULm0yDTHbd6NQ.", "correct horse bcrypt y"},
	{"bcrypt 2a", FormatBcrypt, "$2a$05$xBiRZXbfKZVZ7kEy3X8Jm.LL4adzLq69Xdw5KUIFyaqQ/Lqn4Rxne", "correct horse bcrypt a"},
	{"argon2i reference", FormatArgon2i, "$argon2i$v=19$m=256,t=2,p=2$c29tZXNhbHQ$T/XOJ2mh1/TIpJHfCdQan76Q5esCFVoT5MAeIM1Oq2E", "password"},
	{"argon2id reference", FormatArgon2id, "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc", "password"},
	{"argon2i cli", FormatArgon2i, "$argon2i$v=19$m=4096,t=3,p=1$cmFuZG9tc2FsdGlzaGFyZA$YMvo8AUoNtnKYGqeODruCjHdiEbl1pKL2MsYy9VgU/E", "password"},
	{"pbkdf2-sha1", FormatPBKDF2SHA1, "$pbkdf2$29000$H4sAc2FsdHNhbHT./zAx$UmflPBq/hI1RwxXfxmsmLpf0lF0", "correct horse p1"},
	{"pbkdf2-sha256", FormatPBKDF2SHA256, "$pbkdf2-sha256$29000$TmFDbC1hbmQtcGVwcGVyIQ$DRVwCIDg.2iy4oFCp4enszVvlXidVYFrVB2XPjYlRaE", "correct horse p256"},
	{"pbkdf2-sha512", FormatPBKDF2SHA512, "$pbkdf2-sha512$25000$yMnKy8zNzs/Q0dLT1NXW1w$6EG.TqtG5fNV30LjVh3xddo0yfo13sYuxJG.CD0OFizIABt6MOxmnZyoXq8VaqE5D0DUTVy.SC8o1YLkuYFTng", "correct horse p512"},
	{"pbkdf2-sha256 std base64", FormatPBKDF2SHA256, "$pbkdf2-sha256$1000$+//+c2FsdHkrLw==$rFjGyiwa4wUdpCGW8pJH5/7gHFoXvKAkZB+YfRNQdgU=", "correct horse std"},
	{"sha256-crypt openssl", FormatSHA256Crypt, "$5$QxPu1nNJ7wW3kz2h$HA7RN9MdshI/V29TfDZNoJMGx/xtcyB7K2zFRIcOKH1", "correct horse 5"},
	{"sha512-crypt openssl", FormatSHA512Crypt, "$6$k9Wq2LmZ.aB/cD3e$A6erbXM.kU..pPfD7ahXPlE/TdJmb9r5bmbwPhnPxIpFHVvfTC4/qatUDBel7/ncrIcIACENbxKPBvKkAQNQe0", "correct horse 6"},
	{"sha256-crypt rounds", FormatSHA256Crypt, "$5$rounds=20000$r0undsSaltXYZ$fOraJakVD1f9S7r6nZLaFi.ZYM1SjC95fQyAhdsQPlA", "correct horse 5r"},
	{"sha512-crypt rounds", FormatSHA512Crypt, "$6$rounds=7500$Ab.Cd/Ef$rD313hYXbvJlN7oIHCl1WXhhL8Q/Bc7pxAjnrU1m74FIyruyZhtQzAaPsUt1CdNdbqJUlmCPjl2HZ2MdLAST91", "correct horse 6r"},
	{"ssha", FormatSSHA, "{SSHA}g/mt1IFCaCgCXNTtI1WqQzKBghMBAvr7", "correct horse s1"},
	{"ssha lower-case tag", FormatSSHA, "{ssha}g/mt1IFCaCgCXNTtI1WqQzKBghMBAvr7", "correct horse s1"},
	{"ssha256", FormatSSHA256, "{SSHA256}XaeQHY8GLv57VlegGTN1RP5M3ZIEBWqWLANPUfjfHrU4Ynl0ZXNhbA==", "correct horse s256"},
	{"ssha512", FormatSSHA512, "{SSHA512}v/XSpjBXyurmYwuq4TFhOYMx2Sl+PSTKZY8pMGTQogjXgutQa3x4ZZc8U9aZGZrPHsm+YpAKt9u4sPRuuwr9+HNpeHRlZW4gYnl0ZSBzbHQ=", "correct horse s512"},
}

func TestImportVectors(t *testing.T) {
	ctx := t.Context()
	h := NewHasher(testParams, 0)
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			f, err := Identify(v.encoded)
			if err != nil || f != v.format {
				t.Fatalf("Identify = %q, %v; want %q", f, err, v.format)
			}

			ok, upgraded, err := h.Verify(ctx, v.encoded, v.plain)
			if err != nil || !ok {
				t.Fatalf("Verify(right password) = %v, %v", ok, err)
			}
			if !strings.HasPrefix(upgraded, testPrefix) {
				t.Fatalf("upgraded = %q, want an argon2id hash at the Hasher's params", upgraded)
			}
			ok, again, err := h.Verify(ctx, upgraded, v.plain)
			if err != nil || !ok || again != "" {
				t.Fatalf("Verify(upgraded) = %v, %q, %v; want true, no further upgrade", ok, again, err)
			}

			for _, wrong := range []string{v.plain + "x", strings.ToUpper(v.plain), v.plain[1:]} {
				ok, upgraded, err = h.Verify(ctx, v.encoded, wrong)
				if err != nil || ok || upgraded != "" {
					t.Errorf("Verify(%q) = %v, %q, %v; want false, \"\", nil", wrong, ok, upgraded, err)
				}
			}
		})
	}
}

// bcrypt uses only the first 72 bytes of a password. A legacy hash therefore
// accepts the 72-byte prefix; the upgrade hashes the whole password, so after
// it the prefix no longer works.
func TestBcryptLongPassword(t *testing.T) {
	ctx := t.Context()
	h := NewHasher(testParams, 1)
	// python3 -c 'import crypt; print(crypt.crypt("L"*40+"o"*32+"ngtail!!", "$2b$05$Cq8aF2nMbW3uJv6Lp9zYeO"))'
	const encoded = "$2b$05$Cq8aF2nMbW3uJv6Lp9zYeOMqzctXg79HNz7r4Amy3hAKE64pZL/z2"
	long := strings.Repeat("L", 40) + strings.Repeat("o", 32) + "ngtail!!"

	ok, upgraded, err := h.Verify(ctx, encoded, long)
	if err != nil || !ok || upgraded == "" {
		t.Fatalf("Verify(80 bytes) = %v, %q, %v", ok, upgraded, err)
	}
	if ok, _, _ := h.Verify(ctx, encoded, long[:72]); !ok {
		t.Errorf("legacy bcrypt should accept the 72-byte prefix")
	}
	if ok, _, _ := h.Verify(ctx, upgraded, long); !ok {
		t.Errorf("upgraded hash refuses the full password")
	}
	if ok, _, _ := h.Verify(ctx, upgraded, long[:72]); ok {
		t.Errorf("upgraded hash accepts the truncated password")
	}
}

func wantHashFieldError(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, errkind.Invalid) {
		t.Fatalf("err = %v, want an errkind.Invalid error", err)
	}
	fs := errkind.Fields(err)
	if len(fs) != 1 || fs[0].Field != "hash" {
		t.Fatalf("fields = %v, want one error on \"hash\"", fs)
	}
}

func TestIdentifyRefuses(t *testing.T) {
	bcrypt := vectors[0].encoded                                                                    // $2b$06$...
	argon := "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc" // reference vector
	pbkdf := "$pbkdf2-sha256$29000$TmFDbC1hbmQtcGVwcGVyIQ$DRVwCIDg.2iy4oFCp4enszVvlXidVYFrVB2XPjYlRaE"
	sha5 := "$5$rounds=20000$r0undsSaltXYZ$fOraJakVD1f9S7r6nZLaFi.ZYM1SjC95fQyAhdsQPlA"
	sha6 := "$6$k9Wq2LmZ.aB/cD3e$A6erbXM.kU..pPfD7ahXPlE/TdJmb9r5bmbwPhnPxIpFHVvfTC4/qatUDBel7/ncrIcIACENbxKPBvKkAQNQe0"
	ssha := "{SSHA256}XaeQHY8GLv57VlegGTN1RP5M3ZIEBWqWLANPUfjfHrU4Ynl0ZXNhbA=="

	tests := []struct {
		name, encoded, want string // want: a substring of the message
	}{
		// Unknown formats.
		{"empty", "", "accepted:"},
		{"plain text", "hunter2", "accepted:"},
		{"md5-crypt", "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "accepted:"},
		{"unsalted {SHA}", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "accepted:"},
		{"{CRYPT}", "{CRYPT}$6$abc$def", "accepted:"},
		{"scrypt", "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E", "accepted:"},
		{"argon2d", strings.Replace(argon, "argon2id", "argon2d", 1), "argon2d"},
		{"bcrypt 2x", strings.Replace(bcrypt, "$2b$", "$2x$", 1), "accepted:"},
		{"pbkdf2-sha1 spelled out", strings.Replace(pbkdf, "pbkdf2-sha256", "pbkdf2-sha1", 1), "accepted:"},
		{"leading space", " " + bcrypt, "accepted:"},
		{"too long", "$pbkdf2-sha256$1000$" + strings.Repeat("A", 600) + "$x", "longer than"},

		// Truncated.
		{"bcrypt -1", bcrypt[:len(bcrypt)-1], "malformed bcrypt"},
		{"bcrypt no hash", bcrypt[:29], "malformed bcrypt"},
		{"bcrypt prefix only", "$2b$", "malformed bcrypt"},
		{"argon2 -1", argon[:len(argon)-1], "malformed argon2id hash value"},
		{"argon2 -2", argon[:len(argon)-2], "malformed argon2id hash value"},
		{"argon2 no hash", argon[:strings.LastIndexByte(argon, '$')], "malformed argon2"},
		{"argon2 in params", argon[:20], "malformed argon2"},
		{"pbkdf2 -1", pbkdf[:len(pbkdf)-1], "malformed pbkdf2-sha256 hash value"},
		{"pbkdf2 -4", pbkdf[:len(pbkdf)-4], "malformed pbkdf2-sha256 hash value"},
		{"pbkdf2 no hash", pbkdf[:strings.LastIndexByte(pbkdf, '$')], "malformed pbkdf2"},
		{"sha256-crypt -1", sha5[:len(sha5)-1], "malformed sha256-crypt hash value"},
		{"sha512-crypt -1", sha6[:len(sha6)-1], "malformed sha512-crypt hash value"},
		{"sha512-crypt no hash", sha6[:strings.LastIndexByte(sha6, '$')], "malformed sha512-crypt"},
		{"ssha -1", ssha[:len(ssha)-1], "malformed ssha256"},
		{"ssha -3", ssha[:len(ssha)-3], "malformed ssha256"},
		{"ssha -5", ssha[:len(ssha)-5], "malformed ssha256"},
		{"ssha unpadded", strings.TrimRight(ssha, "="), "malformed ssha256"},
		{"ssha tag only", "{SSHA}", "malformed ssha"},

		// Garbled.
		{"bcrypt bad char", bcrypt[:40] + "!" + bcrypt[41:], "invalid character"},
		{"bcrypt cost letters", strings.Replace(bcrypt, "$06$", "$0x$", 1), "malformed bcrypt cost"},
		{"argon2 version 16", strings.Replace(argon, "v=19", "v=16", 1), "v=19"},
		{"argon2 no version", strings.Replace(argon, "$v=19", "", 1), "malformed argon2"},
		{"argon2 params reordered", strings.Replace(argon, "m=256,t=2,p=2", "t=2,m=256,p=2", 1), "parameters"},
		{"argon2 leading zero", strings.Replace(argon, "m=256", "m=0256", 1), "parameters"},
		{"argon2 sign", strings.Replace(argon, "p=2", "p=+2", 1), "parameters"},
		{"argon2 short salt", strings.Replace(argon, "c29tZXNhbHQ", "c29tZQ", 1), "salt"},
		{"argon2 bad base64", strings.Replace(argon, "bQk8", "bQk*", 1), "hash value"},
		{"argon2 extra field", argon + "$", "malformed argon2"},
		{"pbkdf2 rounds leading zero", strings.Replace(pbkdf, "$29000$", "$029000$", 1), "rounds"},
		{"pbkdf2 bad base64", strings.Replace(pbkdf, "DRVw", "DR*w", 1), "hash value"},
		{"pbkdf2 mixed alphabets", strings.Replace(pbkdf, "DRVw", "DR+w", 1), "hash value"},
		{"sha-crypt rounds garbled", strings.Replace(sha5, "rounds=20000", "rounds=2e4", 1), "rounds"},
		{"sha-crypt salt too long", "$5$" + strings.Repeat("s", 17) + sha5[strings.LastIndexByte(sha5, '$'):], "salt"},
		{"sha-crypt bad salt char", strings.Replace(sha5, "r0undsSaltXYZ", "r0unds_altXYZ", 1), "salt"},
		{"ssha not base64", "{SSHA}not*base64!", "malformed ssha"},
		{"ssha no salt", "{SSHA}" + base64.StdEncoding.EncodeToString(make([]byte, 20)), "salt"},
		{"ssha short salt", "{SSHA}" + base64.StdEncoding.EncodeToString(make([]byte, 23)), "salt"},
		{"ssha long salt", "{SSHA512}" + base64.StdEncoding.EncodeToString(make([]byte, 64+65)), "salt"},

		// Absurd or impossible costs.
		{"bcrypt cost 16", strings.Replace(bcrypt, "$06$", "$16$", 1), "cost 16 is outside 4..15"},
		{"bcrypt cost 31", strings.Replace(bcrypt, "$06$", "$31$", 1), "outside"},
		{"bcrypt cost 99", strings.Replace(bcrypt, "$06$", "$99$", 1), "bcrypt"},
		{"bcrypt cost 3", strings.Replace(bcrypt, "$06$", "$03$", 1), "bcrypt"},
		{"argon2 memory 4GiB+1", strings.Replace(argon, "m=256", "m=4194305", 1), "memory 4194305 is outside"},
		{"argon2 memory uint32 overflow", strings.Replace(argon, "m=256", "m=4294967296", 1), "parameters"},
		{"argon2 time 21", strings.Replace(argon, "t=2", "t=21", 1), "time 21 is outside"},
		{"argon2 time 0", strings.Replace(argon, "t=2", "t=0", 1), "time"},
		{"argon2 threads 17", strings.Replace(argon, "p=2", "p=17", 1), "threads 17 is outside"},
		{"argon2 threads 255", strings.Replace(argon, "p=2", "p=255", 1), "threads"},
		{"argon2 threads 256", strings.Replace(argon, "p=2", "p=256", 1), "parameters"},
		{"argon2 memory below 8p", strings.Replace(argon, "m=256,t=2,p=2", "m=8,t=2,p=2", 1), "8×parallelism"},
		{"pbkdf2 rounds 10M+1", strings.Replace(pbkdf, "$29000$", "$10000001$", 1), "rounds 10000001 is outside"},
		{"pbkdf2 rounds uint32 max", strings.Replace(pbkdf, "$29000$", "$4294967295$", 1), "outside"},
		{"pbkdf2 rounds overflow", strings.Replace(pbkdf, "$29000$", "$99999999999$", 1), "rounds"},
		{"pbkdf2 rounds 0", strings.Replace(pbkdf, "$29000$", "$0$", 1), "rounds 0 is outside"},
		{"sha-crypt rounds 10M+1", strings.Replace(sha5, "rounds=20000", "rounds=10000001", 1), "rounds 10000001 is outside"},
		{"sha-crypt rounds 999999999", strings.Replace(sha5, "rounds=20000", "rounds=999999999", 1), "outside"},
		{"sha-crypt rounds 999", strings.Replace(sha5, "rounds=20000", "rounds=999", 1), "outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Identify(tt.encoded)
			if err == nil {
				t.Fatalf("Identify(%q) = %q, nil; want an error", tt.encoded, f)
			}
			wantHashFieldError(t, err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestIdentifyUnsupportedListsFormats(t *testing.T) {
	_, err := Identify("$1$saltsalt$qjXMvbEw8oaL.CzflDugX/")
	for _, want := range []string{"argon2id", "argon2i", "$2a$", "$2b$", "$2y$", "$pbkdf2$", "$pbkdf2-sha256$", "$pbkdf2-sha512$", "$5$", "$6$", "{SSHA}", "{SSHA256}", "{SSHA512}"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not list %q", err, want)
		}
	}
}

func TestVerifyRefusesMalformed(t *testing.T) {
	h := NewHasher(testParams, 1)
	for _, enc := range []string{"", "hunter2", "$2b$16$Ro0CUfOqk6cXEKf3dyaM7Of0PhCmLNSDc81qPuDhtVP2G84J2bajO", "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$"} {
		ok, upgraded, err := h.Verify(t.Context(), enc, "password")
		if ok || upgraded != "" {
			t.Errorf("Verify(%q) = %v, %q", enc, ok, upgraded)
		}
		wantHashFieldError(t, err)
	}
}

func TestHash(t *testing.T) {
	ctx := t.Context()
	h := NewHasher(testParams, 0)
	a, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{a, b} {
		if !strings.HasPrefix(enc, testPrefix) {
			t.Fatalf("Hash = %q, want prefix %q", enc, testPrefix)
		}
		parts := strings.Split(enc, "$")
		salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
		tag, err2 := base64.RawStdEncoding.DecodeString(parts[5])
		if err1 != nil || err2 != nil || len(salt) != 16 || len(tag) != 32 {
			t.Errorf("Hash = %q: want a 16-byte salt and a 32-byte tag", enc)
		}
		if f, err := Identify(enc); err != nil || f != FormatArgon2id {
			t.Errorf("Identify(Hash) = %q, %v", f, err)
		}
		ok, upgraded, err := h.Verify(ctx, enc, "correct horse battery")
		if err != nil || !ok || upgraded != "" {
			t.Errorf("Verify(own hash) = %v, %q, %v; want true with no upgrade", ok, upgraded, err)
		}
	}
	if a == b || strings.Split(a, "$")[4] == strings.Split(b, "$")[4] {
		t.Errorf("two hashes share a salt: %q, %q", a, b)
	}
	if ok, _, err := h.Verify(ctx, a, "correct horse batterY"); ok || err != nil {
		t.Errorf("Verify(wrong) = %v, %v", ok, err)
	}
}

func TestHashRefusesEmptyAndHuge(t *testing.T) {
	h := NewHasher(testParams, 1)
	for _, plain := range []string{"", strings.Repeat("x", maxPlainBytes+1)} {
		_, err := h.Hash(t.Context(), plain)
		fs := errkind.Fields(err)
		if len(fs) != 1 || fs[0].Field != "password" {
			t.Errorf("Hash(%d bytes) error = %v, want a field error on password", len(plain), err)
		}
		// Verify never accepts what Hash refuses, and does no work for it.
		ok, _, err := h.Verify(t.Context(), vectors[0].encoded, plain)
		if ok || err != nil {
			t.Errorf("Verify(%d bytes) = %v, %v", len(plain), ok, err)
		}
	}
	if _, err := h.Hash(t.Context(), strings.Repeat("x", maxPlainBytes)); err != nil {
		t.Errorf("Hash(%d bytes) = %v", maxPlainBytes, err)
	}
}

func TestUpgradeOnParamChange(t *testing.T) {
	ctx := t.Context()
	weak := NewHasher(testParams, 1)
	stronger := Params{Memory: 9 * 1024, Time: 2, Threads: 1}
	strong := NewHasher(stronger, 1)

	old, err := weak.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	ok, upgraded, err := strong.Verify(ctx, old, "correct horse battery")
	if err != nil || !ok {
		t.Fatalf("Verify(weaker hash) = %v, %v", ok, err)
	}
	if !strings.HasPrefix(upgraded, "$argon2id$v=19$m=9216,t=2,p=1$") {
		t.Fatalf("upgraded = %q, want the stronger params", upgraded)
	}
	if ok, again, err := strong.Verify(ctx, upgraded, "correct horse battery"); !ok || again != "" || err != nil {
		t.Errorf("Verify(upgraded) = %v, %q, %v", ok, again, err)
	}
	if ok, upgraded, err := strong.Verify(ctx, old, "wrong horse battery"); ok || upgraded != "" || err != nil {
		t.Errorf("Verify(weaker hash, wrong) = %v, %q, %v", ok, upgraded, err)
	}
}

func TestParamsValidate(t *testing.T) {
	if err := DefaultParams().Validate(); err != nil {
		t.Fatalf("DefaultParams().Validate() = %v", err)
	}
	if p := DefaultParams(); p != (Params{Memory: 19456, Time: 2, Threads: 1}) {
		t.Errorf("DefaultParams() = %+v", p)
	}
	tests := []struct {
		p      Params
		fields []string
	}{
		{Params{Memory: 8192, Time: 1, Threads: 1}, nil},
		{Params{Memory: 4 << 20, Time: 20, Threads: 16}, nil},
		{Params{Memory: 8191, Time: 1, Threads: 1}, []string{"memory"}},
		{Params{Memory: 4<<20 + 1, Time: 1, Threads: 1}, []string{"memory"}},
		{Params{Memory: 19456, Time: 0, Threads: 1}, []string{"time"}},
		{Params{Memory: 19456, Time: 21, Threads: 1}, []string{"time"}},
		{Params{Memory: 19456, Time: 2, Threads: 0}, []string{"threads"}},
		{Params{Memory: 19456, Time: 2, Threads: 17}, []string{"threads"}},
		{Params{}, []string{"memory", "time", "threads"}},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		var got []string
		for _, fe := range errkind.Fields(err) {
			got = append(got, fe.Field)
		}
		if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
			t.Errorf("%+v.Validate() fields = %v, want %v (err %v)", tt.p, got, tt.fields, err)
		}
		if tt.fields != nil && !errors.Is(err, errkind.Invalid) {
			t.Errorf("%+v.Validate() = %v, not errkind.Invalid", tt.p, err)
		}
	}
}

func TestNewHasherPanicsOnInvalidParams(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewHasher(Params{}) did not panic")
		}
	}()
	NewHasher(Params{}, 1)
}

func TestNewHasherDefaultConcurrency(t *testing.T) {
	for _, n := range []int{0, -1} {
		if got := cap(NewHasher(testParams, n).sem); got != runtime.GOMAXPROCS(0) {
			t.Errorf("NewHasher(_, %d) slots = %d, want GOMAXPROCS %d", n, got, runtime.GOMAXPROCS(0))
		}
	}
	if got := cap(NewHasher(testParams, 3).sem); got != 3 {
		t.Errorf("NewHasher(_, 3) slots = %d", got)
	}
}

func TestConcurrencyBound(t *testing.T) {
	t.Run("cancelled while the slot is taken", func(t *testing.T) {
		h := NewHasher(testParams, 1)
		h.sem <- struct{}{} // someone else is hashing
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := h.Hash(ctx, "correct horse battery"); err != ctx.Err() {
			t.Errorf("Hash = %v, want %v", err, ctx.Err())
		}
		if _, _, err := h.Verify(ctx, vectors[0].encoded, vectors[0].plain); err != ctx.Err() {
			t.Errorf("Verify = %v, want %v", err, ctx.Err())
		}
		if _, err := h.Reused(ctx, "x", []string{vectors[0].encoded}); err != ctx.Err() {
			t.Errorf("Reused = %v, want %v", err, ctx.Err())
		}
		h.Dummy(ctx, "x") // returns at once rather than waiting
	})

	t.Run("cancelled with a free slot", func(t *testing.T) {
		h := NewHasher(testParams, 1)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := h.Hash(ctx, "correct horse battery"); !errors.Is(err, context.Canceled) {
			t.Errorf("Hash = %v, want context.Canceled", err)
		}
	})

	t.Run("waits for the slot", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := NewHasher(testParams, 1)
			h.sem <- struct{}{}

			ctx, cancel := context.WithCancel(t.Context())
			cancelled := make(chan error, 1)
			go func() {
				_, err := h.Hash(ctx, "correct horse battery")
				cancelled <- err
			}()
			done := make(chan error, 1)
			go func() {
				_, err := h.Hash(t.Context(), "correct horse battery")
				done <- err
			}()
			synctest.Wait() // both are blocked on the one slot
			select {
			case err := <-cancelled:
				t.Fatalf("Hash returned %v while the slot was taken", err)
			case err := <-done:
				t.Fatalf("Hash returned %v while the slot was taken", err)
			default:
			}

			cancel()
			if err := <-cancelled; !errors.Is(err, context.Canceled) {
				t.Errorf("waiting Hash after cancel = %v, want context.Canceled", err)
			}
			h.release() // the other hash finishes
			if err := <-done; err != nil {
				t.Errorf("Hash after release = %v", err)
			}
			if len(h.sem) != 0 {
				t.Errorf("slot not released: %d taken", len(h.sem))
			}
		})
	})
}

func TestDummy(t *testing.T) {
	h := NewHasher(DefaultParams(), 1)
	real, err := h.Hash(t.Context(), "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	// Same cost as a real hash: same params, salt length and tag length.
	cut := func(s string) string { return s[:strings.LastIndexByte(s, '$')] }
	if f, err := Identify(h.dummy); err != nil || f != FormatArgon2id {
		t.Fatalf("Identify(dummy) = %q, %v", f, err)
	}
	rp, dp := strings.Split(real, "$"), strings.Split(h.dummy, "$")
	if rp[3] != dp[3] || len(rp[4]) != len(dp[4]) || len(rp[5]) != len(dp[5]) || cut(cut(real)) != cut(cut(h.dummy)) {
		t.Errorf("dummy %q is not shaped like real %q", h.dummy, real)
	}
	if ok, up, err := h.Verify(t.Context(), h.dummy, "correct horse battery"); ok || up != "" || err != nil {
		t.Errorf("Verify(dummy) = %v, %q, %v", ok, up, err)
	}
	h.Dummy(t.Context(), "correct horse battery")
	if len(h.sem) != 0 {
		t.Errorf("Dummy kept its slot")
	}
}

func TestReused(t *testing.T) {
	ctx := t.Context()
	h := NewHasher(testParams, 1)
	old, err := h.Hash(ctx, "old password one")
	if err != nil {
		t.Fatal(err)
	}
	history := []string{old, vectors[0].encoded, vectors[14].encoded} // argon2id, bcrypt, ssha
	tests := []struct {
		plain   string
		want    bool
		wantErr bool
		history []string
	}{
		{"old password one", true, false, history},
		{vectors[0].plain, true, false, history},
		{vectors[14].plain, true, false, history},
		{"brand new password", false, false, history},
		{"brand new password", false, false, nil},
		{"brand new password", false, true, append([]string{"garbage"}, history...)},
		{"old password one", true, false, append([]string{"garbage"}, history...)},
	}
	for _, tt := range tests {
		got, err := h.Reused(ctx, tt.plain, tt.history)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("Reused(%q, %d hashes) = %v, %v; want %v, error %v", tt.plain, len(tt.history), got, err, tt.want, tt.wantErr)
		}
		if err != nil {
			wantHashFieldError(t, err)
		}
	}
}

func TestSSHAVerifierDirect(t *testing.T) {
	v := sshaVerifier{}
	for _, tt := range []struct {
		encoded, plain string
		want           string
		wantErr        bool
	}{
		{vectors[14].encoded, vectors[14].plain, "OK", false},
		{vectors[14].encoded, "nope", "Fail", false},
		{"$2b$05$whatever", "x", "Skip", false},
		{"{SSHA}%%%", "x", "Skip", true},
	} {
		res, err := v.Verify(tt.encoded, tt.plain)
		if res.String() != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("Verify(%q) = %v, %v; want %s", tt.encoded, res, err, tt.want)
		}
		vres, _ := v.Validate(tt.encoded)
		if wantValid := tt.want != "Skip"; (vres.String() == "OK") != wantValid {
			t.Errorf("Validate(%q) = %v", tt.encoded, vres)
		}
	}
}

// FuzzIdentify: Identify never panics, refuses only with a field error on
// "hash", and whatever it accepts passwap's own parsers accept too (so Verify
// never meets a string its verifiers cannot handle).
func FuzzIdentify(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.encoded)
	}
	f.Add("$2")
	f.Add("$5$$")
	f.Add("{SSHA}")
	h := NewHasher(testParams, 1)
	f.Fuzz(func(t *testing.T, encoded string) {
		format, normal, err := identify(encoded)
		if err != nil {
			if fs := errkind.Fields(err); len(fs) != 1 || fs[0].Field != "hash" {
				t.Fatalf("identify(%q) error %v is not a field error on hash", encoded, err)
			}
			return
		}
		if format == "" {
			t.Fatalf("identify(%q) accepted with no format", encoded)
		}
		if err := h.swapper.Validate(normal); err != nil {
			t.Fatalf("identify(%q) = %s but passwap refuses %q: %v", encoded, format, normal, err)
		}
	})
}

// BenchmarkArgon2idRaw is the dominant primitive at DefaultParams.
func BenchmarkArgon2idRaw(b *testing.B) {
	p := DefaultParams()
	salt := []byte("0123456789abcdef")
	for b.Loop() {
		argon2.IDKey([]byte("correct horse battery"), salt, p.Time, p.Memory, p.Threads, keyLen)
	}
}

// BenchmarkHasherVerify is a full Verify of a DefaultParams hash; compare
// with BenchmarkArgon2idRaw for the overhead.
func BenchmarkHasherVerify(b *testing.B) {
	h := NewHasher(DefaultParams(), 0)
	enc, err := h.Hash(b.Context(), "correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(b.Context(), enc, "correct horse battery"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
