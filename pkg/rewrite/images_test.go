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
	var news []string
	for _, l := range img.Lines {
		news = append(news, l.New)
	}
	if strings.Join(news, " ") != "nginx:2 redis:8" {
		t.Errorf("New = %q", news)
	}
}
