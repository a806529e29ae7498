// The join page's background compositor: draws the replica's video into a canvas with Tavus's
// green (rgb(0,255,155), tavus-api.md §7) keyed out and the preset's picture behind it.
// WebGL does the keying on the GPU; without WebGL (or if it is lost) the same maths runs on
// the CPU with canvas 2D. The keying compares colours by chroma (the UV of YUV), not by RGB
// distance, so shading on the green and light fall-off keep being keyed while skin, hair and
// clothes, which differ in hue, do not.
(function () {
  "use strict";

  var KEY = [0, 255 / 255, 155 / 255];
  var SIMILARITY = 0.16;  // chroma distance that is fully background
  var SMOOTHNESS = 0.08;  // soft edge beyond it, so hair and outlines don't look cut out
  var SPILL = 0.12;       // desaturates the green that bleeds onto edges
  var EMPTY = [18 / 255, 24 / 255, 38 / 255];  // behind the replica until the picture loads
  var MAX_2D_WIDTH = 960;  // the CPU path works on at most this many columns

  var VERTEX = [
    "attribute vec2 a_pos;",
    "varying vec2 v_uv;",
    "void main() {",
    "  v_uv = vec2((a_pos.x + 1.0) * 0.5, (1.0 - a_pos.y) * 0.5);",
    "  gl_Position = vec4(a_pos, 0.0, 1.0);",
    "}",
  ].join("\n");

  var FRAGMENT = [
    "precision mediump float;",
    "varying vec2 v_uv;",
    "uniform sampler2D u_video;",
    "uniform sampler2D u_bg;",
    "uniform bool u_hasBg;",
    "uniform vec2 u_bgScale;",
    "uniform vec2 u_bgOffset;",
    "uniform vec3 u_key;",
    "uniform vec3 u_empty;",
    "uniform float u_similarity;",
    "uniform float u_smoothness;",
    "uniform float u_spill;",
    "vec2 chroma(vec3 c) {",
    "  return vec2(c.r * -0.169 + c.g * -0.331 + c.b * 0.5 + 0.5,",
    "              c.r * 0.5 + c.g * -0.419 + c.b * -0.081 + 0.5);",
    "}",
    "void main() {",
    "  vec3 color = texture2D(u_video, v_uv).rgb;",
    "  vec3 bg = u_hasBg ? texture2D(u_bg, v_uv * u_bgScale + u_bgOffset).rgb : u_empty;",
    "  float base = distance(chroma(color), chroma(u_key)) - u_similarity;",
    "  float alpha = pow(clamp(base / u_smoothness, 0.0, 1.0), 1.5);",
    "  float spill = pow(clamp(base / u_spill, 0.0, 1.0), 1.5);",
    "  float grey = dot(color, vec3(0.2126, 0.7152, 0.0722));",
    "  color = mix(vec3(grey), color, spill);",
    "  gl_FragColor = vec4(mix(bg, color, alpha), 1.0);",
    "}",
  ].join("\n");

  // "cover": the picture fills the frame, cropped at the sides or top and bottom.
  function coverFit(frameW, frameH, imageW, imageH) {
    var frame = frameW / frameH, image = imageW / imageH;
    if (image > frame) {
      var sx = frame / image;
      return { scale: [sx, 1], offset: [(1 - sx) / 2, 0] };
    }
    var sy = image / frame;
    return { scale: [1, sy], offset: [0, (1 - sy) / 2] };
  }

  function chromaU(r, g, b) { return r * -0.169 + g * -0.331 + b * 0.5 + 0.5; }
  function chromaV(r, g, b) { return r * 0.5 + g * -0.419 + b * -0.081 + 0.5; }

  // --- WebGL ----------------------------------------------------------------------------------

  function WebGLKeyer(canvas) {
    var gl = canvas.getContext("webgl", {
      alpha: false, antialias: false, premultipliedAlpha: false,
      // Keeps the last frame readable (getImageData through drawImage, readPixels) between
      // frames; the cost is one copy per frame of a single video.
      preserveDrawingBuffer: true,
    });
    if (!gl) throw new Error("no WebGL");
    this.gl = gl;
    this.canvas = canvas;
    var program = gl.createProgram();
    [[gl.VERTEX_SHADER, VERTEX], [gl.FRAGMENT_SHADER, FRAGMENT]].forEach(function (pair) {
      var shader = gl.createShader(pair[0]);
      gl.shaderSource(shader, pair[1]);
      gl.compileShader(shader);
      if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
        throw new Error("shader: " + gl.getShaderInfoLog(shader));
      }
      gl.attachShader(program, shader);
    });
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error("link failed");
    gl.useProgram(program);
    this.program = program;

    var buffer = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    var position = gl.getAttribLocation(program, "a_pos");
    gl.enableVertexAttribArray(position);
    gl.vertexAttribPointer(position, 2, gl.FLOAT, false, 0, 0);

    this.videoTexture = this._texture(0);
    this.bgTexture = this._texture(1);
    this.u = {};
    ["u_video", "u_bg", "u_hasBg", "u_bgScale", "u_bgOffset", "u_key", "u_empty",
      "u_similarity", "u_smoothness", "u_spill"].forEach(function (name) {
      this.u[name] = gl.getUniformLocation(program, name);
    }, this);
    gl.uniform1i(this.u.u_video, 0);
    gl.uniform1i(this.u.u_bg, 1);
    gl.uniform3fv(this.u.u_key, KEY);
    gl.uniform3fv(this.u.u_empty, EMPTY);
    gl.uniform1f(this.u.u_similarity, SIMILARITY);
    gl.uniform1f(this.u.u_smoothness, SMOOTHNESS);
    gl.uniform1f(this.u.u_spill, SPILL);
    gl.uniform1i(this.u.u_hasBg, 0);
    this.image = null;
  }
  WebGLKeyer.prototype.mode = "webgl";
  WebGLKeyer.prototype._texture = function (unit) {
    var gl = this.gl;
    var texture = gl.createTexture();
    gl.activeTexture(gl.TEXTURE0 + unit);
    gl.bindTexture(gl.TEXTURE_2D, texture);
    // Video frames are rarely powers of two: WebGL 1 then needs clamping and no mipmaps.
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    return texture;
  };
  WebGLKeyer.prototype.setBackground = function (image) {
    var gl = this.gl;
    this.image = image;
    gl.activeTexture(gl.TEXTURE1);
    gl.bindTexture(gl.TEXTURE_2D, this.bgTexture);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGB, gl.RGB, gl.UNSIGNED_BYTE, image);
    gl.uniform1i(this.u.u_hasBg, 1);
    this.fitted = null;
  };
  WebGLKeyer.prototype.draw = function (video, width, height) {
    var gl = this.gl;
    gl.viewport(0, 0, width, height);
    if (this.image && this.fitted !== width + "x" + height) {
      var fit = coverFit(width, height, this.image.naturalWidth, this.image.naturalHeight);
      gl.uniform2fv(this.u.u_bgScale, fit.scale);
      gl.uniform2fv(this.u.u_bgOffset, fit.offset);
      this.fitted = width + "x" + height;
    }
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.videoTexture);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGB, gl.RGB, gl.UNSIGNED_BYTE, video);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  };

  // --- Canvas 2D (CPU) ------------------------------------------------------------------------

  function CanvasKeyer(canvas) {
    var ctx = canvas.getContext("2d");
    if (!ctx) throw new Error("no canvas 2D");
    this.ctx = ctx;
    this.canvas = canvas;
    this.work = document.createElement("canvas");
    this.workCtx = this.work.getContext("2d", { willReadFrequently: true });
    this.bg = document.createElement("canvas");
    this.bgCtx = this.bg.getContext("2d", { willReadFrequently: true });
    this.bgPixels = null;
    this.image = null;
    this.keyU = chromaU(KEY[0], KEY[1], KEY[2]);
    this.keyV = chromaV(KEY[0], KEY[1], KEY[2]);
  }
  CanvasKeyer.prototype.mode = "2d";
  CanvasKeyer.prototype.setBackground = function (image) {
    this.image = image;
    this.bgPixels = null;
  };
  CanvasKeyer.prototype._background = function (width, height) {
    if (this.bgPixels && this.bg.width === width && this.bg.height === height) return this.bgPixels;
    this.bg.width = width;
    this.bg.height = height;
    var c = this.bgCtx;
    c.fillStyle = "rgb(" + EMPTY.map(function (v) { return Math.round(v * 255); }).join(",") + ")";
    c.fillRect(0, 0, width, height);
    if (this.image) {
      var fit = coverFit(width, height, this.image.naturalWidth, this.image.naturalHeight);
      var iw = this.image.naturalWidth, ih = this.image.naturalHeight;
      c.drawImage(this.image, fit.offset[0] * iw, fit.offset[1] * ih,
        fit.scale[0] * iw, fit.scale[1] * ih, 0, 0, width, height);
    }
    this.bgPixels = c.getImageData(0, 0, width, height).data;
    return this.bgPixels;
  };
  CanvasKeyer.prototype.draw = function (video, width, height) {
    this.work.width = width;
    this.work.height = height;
    this.workCtx.drawImage(video, 0, 0, width, height);
    var frame = this.workCtx.getImageData(0, 0, width, height);
    var px = frame.data, bg = this._background(width, height);
    var keyU = this.keyU, keyV = this.keyV;
    for (var i = 0; i < px.length; i += 4) {
      var r = px[i] / 255, g = px[i + 1] / 255, b = px[i + 2] / 255;
      var du = chromaU(r, g, b) - keyU, dv = chromaV(r, g, b) - keyV;
      var base = Math.sqrt(du * du + dv * dv) - SIMILARITY;
      if (base <= 0) {  // pure background: the common case, kept cheap
        px[i] = bg[i]; px[i + 1] = bg[i + 1]; px[i + 2] = bg[i + 2];
        continue;
      }
      var alpha = Math.pow(Math.min(base / SMOOTHNESS, 1), 1.5);
      if (alpha >= 1 && base >= SPILL) continue;
      var spill = Math.pow(Math.min(base / SPILL, 1), 1.5);
      var grey = 0.2126 * r + 0.7152 * g + 0.0722 * b;
      r = grey + (r - grey) * spill; g = grey + (g - grey) * spill; b = grey + (b - grey) * spill;
      px[i] = bg[i] + (r * 255 - bg[i]) * alpha;
      px[i + 1] = bg[i + 1] + (g * 255 - bg[i + 1]) * alpha;
      px[i + 2] = bg[i + 2] + (b * 255 - bg[i + 2]) * alpha;
    }
    this.ctx.putImageData(frame, 0, 0);
  };

  // --- The compositor: picks a keyer, follows the video's frames ------------------------------

  function Compositor(canvas, video, options) {
    options = options || {};
    this.canvas = canvas;
    this.video = video;
    this.running = false;
    this.image = null;
    this.keyer = null;
    if (!options.force2d) {
      try { this.keyer = new WebGLKeyer(canvas); } catch (e) { this.keyer = null; }
    }
    if (!this.keyer) this.keyer = new CanvasKeyer(canvas);
    this.mode = this.keyer.mode;
    canvas.dataset.compositor = this.mode;
    var self = this;
    canvas.addEventListener("webglcontextlost", function (event) {
      // The GPU went away (driver reset, too many contexts): carry on with the CPU path on a
      // fresh canvas, since a canvas that had a WebGL context can't give a 2D one.
      event.preventDefault();
      var fresh = document.createElement("canvas");
      fresh.id = canvas.id;
      fresh.className = canvas.className;
      canvas.replaceWith(fresh);
      self.canvas = fresh;
      self.keyer = new CanvasKeyer(fresh);
      self.mode = "2d";
      fresh.dataset.compositor = "2d";
      if (self.image) self.keyer.setBackground(self.image);
    });
    if (options.backgroundUrl) this.load(options.backgroundUrl);
  }

  Compositor.prototype.load = function (url) {
    var self = this;
    var image = new Image();
    image.decoding = "async";
    image.onload = function () {
      self.image = image;
      self.keyer.setBackground(image);
      self.canvas.dataset.background = "loaded";
      self.frame();
    };
    image.onerror = function () { self.canvas.dataset.background = "failed"; };
    image.src = url;
  };

  Compositor.prototype.frame = function () {
    var video = this.video;
    if (!video.videoWidth || video.readyState < 2) return;
    var width = video.videoWidth, height = video.videoHeight;
    if (this.mode === "2d" && width > MAX_2D_WIDTH) {
      height = Math.round(height * MAX_2D_WIDTH / width);
      width = MAX_2D_WIDTH;
    }
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.keyer.draw(video, width, height);
    this.canvas.dataset.frames = String((Number(this.canvas.dataset.frames) || 0) + 1);
  };

  Compositor.prototype.start = function () {
    if (this.running) return;
    this.running = true;
    var self = this, video = this.video;
    // Once per decoded video frame where supported; else once per screen refresh.
    var perFrame = typeof video.requestVideoFrameCallback === "function";
    function step() {
      if (!self.running) return;
      self.frame();
      if (perFrame) video.requestVideoFrameCallback(step); else window.requestAnimationFrame(step);
    }
    step();
  };

  Compositor.prototype.stop = function () { this.running = false; };

  window.StudioCompositor = {
    create: function (canvas, video, options) { return new Compositor(canvas, video, options); },
    coverFit: coverFit,
  };
})();
