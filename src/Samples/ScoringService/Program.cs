using Microsoft.ML.Quantization.Samples;
using Microsoft.ML.Quantization.Samples.ScoringService;

// Serves a saved MLQuant model through its own pipeline (the service decodes nothing itself):
//   dotnet run --project src/Samples/ScoringService -c Release -- --Model artifacts/image-classification/model.zip [--urls http://127.0.0.1:5080] [--MaxRequestBytes 1048576] [--verbose]
//   POST /predict   an image model: the image bytes (whatever its LoadImages reads: PNG, JPEG, BMP…, any size);
//                   a text model: JSON {"text":"..."} or text/plain; a pixel model: JSON {"pixels":[...]}
//                   → {"label": "...", "scores": {...}}
//   GET  /health    → {"status":"ok"}
//   GET  /model     → what /predict takes, the classes, the network's input shape and the quantization report
return SampleMain.Run(args, arguments =>
{
    ScoringApp.Create(arguments).Run();
    return 0;
});
