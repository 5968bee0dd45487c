package login

import (
	"bytes"
	"encoding/base64"
	"image/png"

	"github.com/pquerna/otp"
)

// qrDataURL draws a key's QR code as a PNG data URL, so the set-up page
// needs no extra request and the secret never sits in a URL that a log
// could keep.
func qrDataURL(key *otp.Key) (string, error) {
	img, err := key.Image(200, 200)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}
