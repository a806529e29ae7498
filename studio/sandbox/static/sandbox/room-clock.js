// The sandbox room's clock, in a worker: background tabs throttle page timers, not this one.
setInterval(function () { postMessage(0); }, 250);
