// Real calls (`clinic serve --media real`): the page's side of the protocol the headless
// callers speak (harness/rtc_caller.py, docs/media.md). Plain JS, no build step, no network
// beyond this origin.
//
// - Joining opens the microphone and one RTCPeerConnection, audio only (the camera too when
//   the call is already in video, as for a caller rejoining one).
// - Switching to video adds the camera by renegotiating before the switch is posted, so the
//   clinic sees the camera from the first moment of the video segment; switching back posts
//   first, then sets the camera inactive (the end of the video segment still has it).
// - Ending or leaving hangs up.
//
// Signalling rides the user's /ws/events socket: {"type": "media-offer", "consultation_id",
// "sdp"} answered by "media-answer" (or "media-error"). The offer is sent once ICE gathering is
// complete: the clinic's endpoint takes no trickled candidates.
//
// #media shows the state (off, audio, video, failed); data-settled is "no" while an action is
// under way, so a person (or a test) knows when the call is what the buttons say.
(() => {
  const media = document.getElementById("media");
  const error = document.getElementById("error");
  const ANSWER_MS = 15000;
  let socket = null;
  let opened = null;
  let pc = null;
  let mic = null;
  let camera = null;
  let video = null; // the camera's transceiver, once added
  const waiting = []; // resolvers of offers sent, oldest first

  function openSocket() {
    if (socket !== null && socket.readyState <= WebSocket.OPEN) return opened;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/events`);
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.type === "media-answer" || message.type === "media-error") {
        const resolve = waiting.shift();
        if (resolve) resolve(message);
      }
    });
    opened = new Promise((resolve, reject) => {
      socket.addEventListener("open", resolve, { once: true });
      socket.addEventListener("error", () => reject(new Error("the events socket did not open")), { once: true });
    });
    return opened;
  }

  function gathered() {
    return new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") { resolve(); return; }
      const check = () => {
        if (pc.iceGatheringState !== "complete") return;
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      };
      pc.addEventListener("icegatheringstatechange", check);
    });
  }

  async function negotiate(id) {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered();
    const reply = new Promise((resolve, reject) => {
      waiting.push(resolve);
      setTimeout(() => reject(new Error("no answer to the media offer")), ANSWER_MS);
    });
    socket.send(JSON.stringify({ type: "media-offer", consultation_id: Number(id), sdp: pc.localDescription.sdp }));
    const message = await reply;
    if (message.type !== "media-answer") throw new Error(message.detail || "the media offer was refused");
    await pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
  }

  async function addCamera() {
    if (camera === null) {
      const stream = await navigator.mediaDevices.getUserMedia({
        video: { width: 320, height: 240, frameRate: 15 },
      });
      camera = stream.getVideoTracks()[0];
    }
    if (video === null) {
      video = pc.addTransceiver(camera, { direction: "sendonly" });
    } else {
      await video.sender.replaceTrack(camera);
      video.direction = "sendonly";
    }
  }

  async function start(id, mode) {
    await openSocket();
    // No STUN server: the clinic is a peer on the same network.
    pc = new RTCPeerConnection({ iceServers: [] });
    // The browser's default audio processing (echo cancellation, noise suppression, gain
    // control), as a telehealth page would have it: the canary's audio code survives it.
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    mic = stream.getAudioTracks()[0];
    pc.addTransceiver(mic, { direction: "sendonly" });
    if (mode === "video") await addCamera();
    await negotiate(id);
  }

  async function cameraOn(id) {
    await addCamera();
    await negotiate(id);
  }

  async function cameraOff(id) {
    if (video === null) return;
    await video.sender.replaceTrack(null);
    video.direction = "inactive";
    if (camera !== null) { camera.stop(); camera = null; }
    await negotiate(id);
  }

  function hangUp() {
    if (pc !== null) pc.close();
    for (const track of [mic, camera]) if (track !== null) track.stop();
    pc = mic = camera = video = null;
    // A caller who joins again does so on a new socket, as a headless caller does (the
    // clinic also answers a new peer on the same socket: tests/media/test_same_socket_rejoin.py).
    if (socket !== null) socket.close();
    socket = opened = null;
    waiting.length = 0;
  }

  function show(call) {
    document.getElementById("status").textContent = call.status;
    document.getElementById("mode").textContent = call.mode;
    document.getElementById("switches").textContent = call.switches;
    document.getElementById("participants").textContent = call.participants.join(", ");
  }

  function settle(state) {
    media.dataset.state = state;
    media.textContent = state;
    media.dataset.settled = "yes";
  }

  function now() {
    if (pc === null) return "off";
    return video !== null && video.direction === "sendonly" ? "video" : "audio";
  }

  async function act(button, id) {
    media.dataset.settled = "no";
    error.textContent = "";
    const action = button.dataset.action;
    const mode = button.dataset.mode;
    try {
      const toVideo = action === "switch" && mode === "video" && pc !== null;
      if (toVideo) await cameraOn(id);
      const init = { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" } };
      if (mode) init.body = JSON.stringify({ mode });
      const response = await fetch(`/api/consultations/${id}/${action}`, init);
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        if (toVideo) await cameraOff(id);
        error.textContent = body.detail || `failed (${response.status})`;
        settle(now());
        return;
      }
      show(body);
      if (action === "join" && pc === null) await start(id, body.mode);
      else if (action === "switch" && mode === "audio") await cameraOff(id);
      else if (action === "end" || action === "leave") hangUp();
      settle(now());
    } catch (problem) {
      error.textContent = `media: ${problem.message}`;
      media.dataset.state = "failed";
      media.textContent = "failed";
      media.dataset.settled = "yes";
    }
  }

  window.callMedia = { act };
})();
