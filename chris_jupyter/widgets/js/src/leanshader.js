// A lean 2-D slice shader: base volume + label overlay only.
//
// niivue's default slice shader also samples its drawing and PAQD textures and
// checks overlay outlines (3-4 3-D texture fetches per fragment). We use neither
// feature, and on software WebGL (SwiftShader) each 3-D fetch costs real frame time.
export const LEAN_SLICE_SHADER = `#version 300 es
precision highp int;
precision highp float;
uniform highp sampler3D volume, overlay;
uniform float overlays;
uniform float opacity;
uniform float overlayAlphaShader;
in vec3 texPos;
out vec4 color;
void main() {
  vec4 background = texture(volume, texPos);
  color = vec4(background.rgb, opacity);
  if (overlays > 0.0) {
    vec4 ocolor = texture(overlay, texPos);
    ocolor.a *= overlayAlphaShader;
    float a = color.a + ocolor.a * (1.0 - color.a);
    if (a > 0.0) {
      color.rgb = mix(color.rgb, ocolor.rgb, ocolor.a / a);
      color.a = a;
    }
  }
}`;
