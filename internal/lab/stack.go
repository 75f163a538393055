package lab

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var svgSize = regexp.MustCompile(`^<svg [^>]*?width="(\d+)" height="(\d+)"`)

// StackSVG puts whole SVG pictures (Timeline.SVG's) one above another in one
// picture: each keeps its own coordinates inside a nested svg element
// placed below the previous one. The comparison's timelines of one scenario
// stack the designs this way.
func StackSVG(pics []string) (string, error) {
	var body strings.Builder
	width, y := 0, 0
	for i, p := range pics {
		m := svgSize.FindStringSubmatch(p)
		if m == nil {
			return "", fmt.Errorf("picture %d: no root svg element with width and height", i)
		}
		w, _ := strconv.Atoi(m[1])
		h, _ := strconv.Atoi(m[2])
		width = max(width, w)
		body.WriteString(strings.Replace(p, "<svg ", fmt.Sprintf(`<svg x="0" y="%d" `, y), 1))
		body.WriteString("\n")
		y += h
	}
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n%s</svg>\n", width, y, width, y, body.String()), nil
}
