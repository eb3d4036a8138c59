package rewrite

import (
	"strings"
	"testing"
)

func TestParseImagesBOM(t *testing.T) {
	img, err := ParseImages(strings.NewReader("\ufeffnginx:2\n\n# c\nredis:8\n"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(img.New, " ") != "nginx:2 redis:8" {
		t.Errorf("New = %q", img.New)
	}
}
